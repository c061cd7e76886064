package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

var errNotFound = errors.New("page not found")

type refreshedKey struct{}

// --- pages -------------------------------------------------------------

// pageData is what every page template receives.
type pageData struct {
	Title     string
	User      *oauthkit.User
	Provider  string // display name of the user's provider
	Providers []oauthkit.ProviderInfo
	Next      string // return-to path for the login buttons
	Notice    string
	Dev       *devProvider
	DevPass   string
	Store     string
	Paths     sitePaths

	// profile and api-demo
	TokenExpiry  string
	TokenState   string
	Refreshed    bool
	Profile      string
	ProfileError string

	// error page
	Status  int
	Message string
}

// page is the data every page starts from; it must run inside the session
// middleware (it reads the signed-in user).
func (a *app) page(r *http.Request, title string) pageData {
	d := a.anonymousPage(title)
	if u, ok := a.kit.User(r.Context()); ok {
		d.User = u
		d.Provider = a.displayName(u.Provider)
	}
	return d
}

func (a *app) anonymousPage(title string) pageData {
	return pageData{Title: title, Providers: a.kit.Providers(), Dev: a.dev, DevPass: devPassword, Store: a.store, Paths: paths}
}

func (a *app) displayName(name string) string {
	if c, ok := a.clients[name]; ok {
		return c.DisplayName()
	}
	return name
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home", a.page(r, "Home"))
}

// login is RequireAuth's LoginPath: the provider buttons, carrying "next".
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Sign in")
	if next, ok := oauthkit.SafeReturnTo(r.URL.Query().Get("next")); ok && next != "/" {
		d.Next = next
		d.Notice = "Please sign in to see that page."
	}
	a.render(w, r, http.StatusOK, "home", d)
}

func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Your profile")
	u, _ := a.kit.User(r.Context())
	d.User, d.Provider = u, a.displayName(u.Provider)
	if !a.tokenInfo(w, r, &d) {
		return
	}
	a.render(w, r, http.StatusOK, "profile", d)
}

// apiDemo calls the provider's user API with a valid access token, which
// kit.Token refreshes first when it has expired.
func (a *app) apiDemo(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Provider API")
	u, _ := a.kit.User(r.Context())
	d.User, d.Provider = u, a.displayName(u.Provider)
	refreshed := new(atomic.Bool)
	r = r.WithContext(context.WithValue(r.Context(), refreshedKey{}, refreshed))
	tok, ok := a.token(w, r)
	if !ok {
		return
	}
	d.Refreshed = refreshed.Load()
	d.TokenExpiry, d.TokenState = a.expiry(tok)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	raw, err := a.clients[u.Provider].Profile(ctx, tok.AccessToken)
	switch {
	case errors.Is(err, client.ErrProfileNotSupported):
		d.ProfileError = "This provider has no user API."
	case err != nil:
		a.logger.WarnContext(r.Context(), "provider user API failed", "provider", u.Provider, "error", err)
		d.ProfileError = "The provider's user API did not answer. Please try again later."
	default:
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			buf.Reset()
			buf.Write(raw)
		}
		d.Profile = buf.String()
	}
	a.render(w, r, http.StatusOK, "api", d)
}

// tokenInfo fills the token fields of d; false means an error page was
// written.
func (a *app) tokenInfo(w http.ResponseWriter, r *http.Request, d *pageData) bool {
	tok, ok := a.token(w, r)
	if ok {
		d.TokenExpiry, d.TokenState = a.expiry(tok)
	}
	return ok
}

// token is kit.Token with the failures turned into pages: a grant that
// cannot be refreshed signs the user out and asks to sign in again.
func (a *app) token(w http.ResponseWriter, r *http.Request) (*client.Token, bool) {
	tok, err := a.kit.Token(r.Context())
	if err != nil {
		a.logger.WarnContext(r.Context(), "provider token unavailable", "error", err)
		a.renderError(w, r, err)
		return nil, false
	}
	return tok, true
}

func (a *app) expiry(t *client.Token) (string, string) {
	if t.Expiry.IsZero() {
		return "does not expire", "valid"
	}
	now := a.now()
	left := t.Expiry.Sub(now).Round(time.Second)
	state := "valid for " + left.String()
	if left <= 0 {
		state = "expired"
	}
	return t.Expiry.UTC().Format("2006-01-02 15:04:05 UTC"), state
}

// renderError is the kit's ErrorHandler and the app's: a friendly page with
// oauthkit.HTTPStatus(err). It never shows err's text.
func (a *app) renderError(w http.ResponseWriter, r *http.Request, err error) {
	a.errorPage(w, r, err, true)
}

func (a *app) errorPage(w http.ResponseWriter, r *http.Request, err error, inSession bool) {
	d := a.anonymousPage("")
	if inSession {
		d = a.page(r, "")
	}
	d.Status = oauthkit.HTTPStatus(err)
	if errors.Is(err, errNotFound) {
		d.Status = http.StatusNotFound
	}
	d.Title, d.Message = friendly(err)
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, d.Status, "error", d)
}

// friendly explains an error to a person.
func friendly(err error) (title, message string) {
	switch {
	case errors.Is(err, errNotFound):
		return "Page not found", "There is nothing at this address."
	case errors.Is(err, oauthkit.ErrAccessDenied):
		return "Sign-in cancelled", "You declined to share your account with this site, so you are not signed in. You can try again whenever you like."
	case errors.Is(err, oauthkit.ErrStateExpired):
		return "Sign-in expired", "The sign-in took too long and has expired. Please start again."
	case errors.Is(err, oauthkit.ErrStateNotFound), errors.Is(err, oauthkit.ErrProviderMismatch):
		return "Sign-in expired", "This sign-in was already completed, has expired, or was started in another browser. Please start again."
	case errors.Is(err, oauthkit.ErrReauthRequired), errors.Is(err, oauthkit.ErrNotSignedIn):
		return "Please sign in again", "Your sign-in with the provider has ended, so you were signed out."
	case errors.Is(err, oauthkit.ErrLoginRefused):
		return "Sign-in refused", "This account cannot sign in to this site."
	case errors.Is(err, oauthkit.ErrProvider):
		return "Sign-in failed", "The provider refused the sign-in. Please try again later."
	case errors.Is(err, oauthkit.ErrCrossOrigin):
		return "Request refused", "This form can only be sent from this site."
	case errors.Is(err, oauthkit.ErrMethodNotAllowed):
		return "Not allowed", "This address does not accept that kind of request."
	case errors.Is(err, oauthkit.ErrSession):
		return "Something went wrong", "Your session could not be saved. Please try again in a moment."
	case errors.Is(err, oauthkit.ErrExchange), errors.Is(err, oauthkit.ErrIdentity):
		if oauthkit.HTTPStatus(err) == http.StatusBadRequest {
			return "Sign-in expired", "The provider no longer accepts this sign-in. Please start again."
		}
		return "Provider unavailable", "The sign-in provider did not answer properly. Please try again later."
	case oauthkit.HTTPStatus(err) == http.StatusBadRequest:
		return "Sign-in failed", "The sign-in could not be completed. Please start again."
	}
	return "Something went wrong", "Please try again later."
}

// render executes a page into a buffer first, so a template error never
// leaves half a page behind a 200.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	var buf bytes.Buffer
	if err := a.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		a.logger.ErrorContext(r.Context(), "template failed", "page", page, "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if d.User != nil {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
