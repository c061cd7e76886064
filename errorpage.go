package oauthkit

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
)

// errorPage is deliberately plain and self-contained: it must never show
// internal details, provider bodies or anything from the request.
var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222">
<h1 style="font-size:1.4rem">{{.Title}}</h1><p>{{.Message}}</p><p><a href="/">Back to the home page</a></p>
</body></html>
`))

// ErrorMessage returns the short, safe title and explanation the default
// error page shows for err, for applications that render failures in their
// own layout. It never includes err's text, which may hold
// provider-controlled data.
func ErrorMessage(err error) (title, message string) {
	switch {
	case errors.Is(err, ErrAccessDenied):
		return "Login cancelled", "You declined to share your account with this site. You can try again at any time."
	case errors.Is(err, ErrStateExpired):
		return "Login expired", "The login took too long. Please start again."
	case errors.Is(err, ErrStateNotFound), errors.Is(err, ErrProviderMismatch):
		return "Login not recognised", "This login was not started here or was already used. Please start again."
	case errors.Is(err, ErrLoginRefused), errors.Is(err, ErrPolicyDenied):
		return "Login refused", "This account cannot sign in to this site."
	case errors.Is(err, ErrMethodNotAllowed):
		return "Method not allowed", "This address does not accept that kind of request."
	case errors.Is(err, ErrCrossOrigin):
		return "Request refused", "Cross-site requests are not allowed here."
	case errors.Is(err, ErrLogoutToken), errors.Is(err, ErrLogoutReplay):
		return "Logout refused", "This logout notification could not be verified."
	case errors.Is(err, ErrProviderUnavailable):
		return "Login unavailable", "The login provider cannot be reached right now. Please try again in a few minutes."
	case errors.Is(err, ErrUnknownProvider):
		return "Login not found", "There is no login here. Check the address and try again."
	case errors.Is(err, ErrNotSignedIn), errors.Is(err, ErrReauthRequired):
		return "Please log in", "Your login has ended. Please log in again."
	}
	switch HTTPStatus(err) {
	case http.StatusBadRequest:
		return "Login failed", "The login could not be completed. Please start again."
	case http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusForbidden:
		return "Login failed", "The login provider could not complete the login. Please try again later."
	}
	return "Something went wrong", "Please try again later."
}

// DefaultErrorHandler renders a short page with HTTPStatus(err) and
// ErrorMessage(err). It never shows err's text, which may hold
// provider-controlled data.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	title, msg := ErrorMessage(err)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(HTTPStatus(err))
	_ = errorPage.Execute(w, struct{ Title, Message string }{title, msg})
}

// logFailure logs err with its status: ERROR for 5xx (the site's fault),
// WARN for the rest (the request's). It returns the status.
func (k *Kit) logFailure(r *http.Request, msg, provider string, err error) int {
	status := HTTPStatus(err)
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	k.cfg.Logger.Log(r.Context(), level, msg, "provider", provider, "status", status, "path", r.URL.Path, "error", err.Error())
	return status
}

// fail logs err (kind and provider; client errors never carry secrets) and
// hands it to the error handler.
func (k *Kit) fail(w http.ResponseWriter, r *http.Request, provider string, err error) {
	failed(r.Context(), err)
	k.logFailure(r, "oauthkit: request failed", provider, err)
	if k.cfg.ErrorHandler != nil {
		k.cfg.ErrorHandler(w, r, err)
		return
	}
	DefaultErrorHandler(w, r, err)
}
