package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/client"
)

// errNotFound is the app's own error, for addresses no route serves.
var errNotFound = errors.New("page not found")

// refreshedKey carries an *atomic.Bool through kit.Token's context so the
// kit's OnTokenRefresh hook can tell the API page that it refreshed.
type refreshedKey struct{}

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

	// profile: the user's picture, only when it is an https URL (the CSP
	// allows https images; an http one would be mixed content)
	Avatar string

	// api-demo
	TokenExpiry  string
	TokenState   string
	Refreshed    bool
	Profile      string
	ProfileError string

	// error and reauth pages
	Status  int
	Message string
}

// page is the data every page starts from; it must run inside the session
// middleware (it reads the signed-in user).
func (a *app) page(r *http.Request, title string) pageData {
	d := a.anonymousPage(title)
	if u, ok := a.kit.User(r.Context()); ok {
		a.setUser(&d, u)
	}
	return d
}

// setUser fills the signed-in user's fields of d.
func (a *app) setUser(d *pageData, u *oauthkit.User) {
	d.User = u
	d.Provider = a.displayName(u.Provider)
	d.Avatar = avatarURL(u.AvatarURL)
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

// avatarURL returns raw when it is an absolute https URL, and "" otherwise.
// The provider chose it, so html/template still escapes it in the src
// attribute; this only keeps out what the page could not load anyway.
func avatarURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	return u.String()
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Home")
	d.Notice = a.sessions.PopString(r.Context(), noticeKey)
	a.render(w, r, http.StatusOK, "home", d)
}

// noticeKey is the session key of a one-time notice for the home page.
const noticeKey = "notice"

// logoutEverywhere ("Sign out everywhere", POST behind RequireAuth, and
// same-origin as every POST of the site) ends every session of the user,
// in every browser and on every instance sharing the stores, this one
// included, then leaves a notice for the home page in a fresh session.
// Provider sessions are left alone: the user is signed out of this site,
// not of their provider.
func (a *app) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, _ := a.kit.User(ctx) // RequireAuth let the request in: signed in
	n, err := a.kit.LogoutEverywhere(ctx, u.UserID)
	if err != nil {
		a.logger.ErrorContext(ctx, "sign out everywhere failed", "user", u.UserID, "ended", n, "error", err)
		a.renderError(w, r, err)
		return
	}
	// This session was among those ended; Destroy also clears its cookie.
	if err := a.sessions.Destroy(ctx); err != nil {
		a.renderError(w, r, fmt.Errorf("%w: %w", oauthkit.ErrSession, err))
		return
	}
	a.logger.InfoContext(ctx, "signed out everywhere", "user", u.UserID, "sessions_ended", n)
	a.sessions.Put(ctx, noticeKey, fmt.Sprintf("You are signed out everywhere: %d %s ended.", n, plural(n, "session", "sessions")))
	http.Redirect(w, r, paths.Home, http.StatusSeeOther)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// login is RequireAuth's LoginPath: the provider buttons, carrying "next".
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Log in")
	if next, ok := oauthkit.SafeReturnTo(r.URL.Query().Get("next")); ok && next != "/" {
		d.Next = next
		d.Notice = "Please log in to see that page."
	}
	a.render(w, r, http.StatusOK, "home", d)
}

// profile shows who is signed in. It makes no call to the provider: the
// identity was read at login and is kept in the session.
func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "profile", a.page(r, "Your profile"))
}

// apiDemo calls the provider's user API with a valid access token, which
// kit.Token refreshes first when it has expired.
func (a *app) apiDemo(w http.ResponseWriter, r *http.Request) {
	d := a.page(r, "Provider API")
	refreshed := new(atomic.Bool)
	r = r.WithContext(context.WithValue(r.Context(), refreshedKey{}, refreshed))
	tok, err := a.kit.Token(r.Context())
	switch {
	case errors.Is(err, oauthkit.ErrReauthRequired):
		// The grant has ended (refresh token revoked, rotated elsewhere, or
		// never issued). The kit leaves the session alone; this app asks the
		// user to log in again and signs out only through POST /logout.
		a.reauth(w, r, d, err)
		return
	case err != nil:
		a.logger.WarnContext(r.Context(), "provider token unavailable", "error", err)
		a.renderError(w, r, err)
		return
	}
	d.Refreshed = refreshed.Load()
	d.TokenExpiry, d.TokenState = a.expiry(tok)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var raw json.RawMessage
	err = client.ErrProfileNotSupported
	if c, ok := a.clients[d.User.Provider]; ok {
		raw, err = c.Profile(ctx, tok.AccessToken)
	}
	switch {
	case errors.Is(err, client.ErrProfileNotSupported):
		d.ProfileError = "This provider has no user API."
	case err != nil:
		a.logger.WarnContext(r.Context(), "provider user API failed", "provider", d.User.Provider, "error", err)
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

// reauth asks a signed-in user whose provider grant has ended to log in
// again, with buttons that return to this page (401, as
// oauthkit.HTTPStatus says).
func (a *app) reauth(w http.ResponseWriter, r *http.Request, d pageData, err error) {
	a.logger.InfoContext(r.Context(), "provider grant ended: asking to log in again", "provider", d.User.Provider)
	d.Title, d.Message = oauthkit.ErrorMessage(err)
	if next, ok := oauthkit.SafeReturnTo(r.URL.RequestURI()); ok {
		d.Next = next
	}
	a.render(w, r, oauthkit.HTTPStatus(err), "reauth", d)
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

// renderError is the kit's ErrorHandler and the app's: the kit's status and
// wording (oauthkit.HTTPStatus, oauthkit.ErrorMessage) in the site's layout.
// It never shows err's text.
func (a *app) renderError(w http.ResponseWriter, r *http.Request, err error) {
	a.errorPage(w, r, err, true)
}

func (a *app) errorPage(w http.ResponseWriter, r *http.Request, err error, inSession bool) {
	d := a.anonymousPage("")
	if inSession {
		d = a.page(r, "")
	}
	d.Status = oauthkit.HTTPStatus(err)
	d.Title, d.Message = oauthkit.ErrorMessage(err)
	if errors.Is(err, errNotFound) { // the app's own error, unknown to the kit
		d.Status = http.StatusNotFound
		d.Title, d.Message = "Page not found", "There is nothing at this address."
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, d.Status, "error", d)
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
