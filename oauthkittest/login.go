package oauthkittest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	loginPath     = "/oauthkittest/login"
	loggedOutPath = "/oauthkittest/logged-out"
	// ticketHeader carries a LoginAs ticket to the provider's login step;
	// LoginAs adds it only to requests for the provider's own host:port.
	ticketHeader = "Oauthkittest-Login"
)

// loginTicket is one LoginAs call: who logs in, and which authorization
// request its login completed.
type loginTicket struct {
	subject   string
	requestID string
}

// LoginError is a LoginAs whose flow did not complete: an answer of 400 or
// more, a flow that never reached the provider's login, or one whose code
// the application never exchanged. It matches ErrLogin.
type LoginError struct {
	// URL is the last URL requested, Status its answer (0 when the flow
	// ended without an error answer).
	URL    string
	Status int
	// Reason says what went wrong; Body is the start of the last answer.
	Reason string
	Body   string
}

// Error says what went wrong and, for an error answer, where.
func (e *LoginError) Error() string {
	s := "oauthkittest: login did not complete: " + e.Reason
	if e.Status != 0 {
		s += fmt.Sprintf(" (%s answered %d: %q)", e.URL, e.Status, e.Body)
	}
	return s
}

// Is makes a *LoginError match ErrLogin.
func (e *LoginError) Is(target error) bool { return target == ErrLogin }

// SetNextLogin makes the next authorization request that reaches the
// provider's login step (one that LoginAs did not start) log in user,
// without a form: for flows a test drives itself, such as a browser or an
// application's own HTTP client. Calls queue up, one login each.
func (p *Provider) SetNextLogin(user string) error {
	u, ok := p.user(user)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	p.mu.Lock()
	p.next = append(p.next, u.Subject)
	p.mu.Unlock()
	return nil
}

// LoginAs logs user (a Subject, or an Email) in to the application whose
// login URL is loginURL, through the real flow: the application's login
// handler, the provider's authorize and login steps (no form: the login
// carries a ticket only this provider reads) and the application's
// callback. It returns once the callback has answered, with the
// application's session cookie in hc's jar; the page the callback
// redirects to is not requested.
//
// hc is the test's browser: it needs a cookie jar; its Transport and
// Timeout are used, its CheckRedirect is not (LoginAs follows redirects
// itself). A flow that fails returns a *LoginError.
func (p *Provider) LoginAs(ctx context.Context, hc *http.Client, loginURL, user string) error {
	u, ok := p.user(user)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	ticket := rand.Text()
	p.mu.Lock()
	p.tickets[ticket] = &loginTicket{subject: u.Subject}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.tickets, ticket)
		p.mu.Unlock()
	}()

	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if p.route != nil {
		base = p.route(base)
	}
	c.Transport = ticketTransport{base: base, hosts: p.hosts, ticket: ticket}
	if err := followLogin(ctx, &c, loginURL, func(host string) bool { return slices.Contains(p.hosts, host) }); err != nil {
		return err
	}

	p.mu.Lock()
	id := p.tickets[ticket].requestID
	p.mu.Unlock()
	if id == "" {
		return &LoginError{URL: loginURL, Reason: "the flow never reached the provider's login step (is loginURL the application's login handler?)"}
	}
	p.st.mu.Lock()
	_, exchanged := p.st.grants[id]
	p.st.mu.Unlock()
	if !exchanged {
		return &LoginError{URL: loginURL, Reason: "the application did not exchange the authorization code"}
	}
	return nil
}

// followLogin GETs loginURL with c and follows the redirects up to the
// application's callback: the first request to a host that is not the
// provider's after an answer of the provider. Its answer ends the login
// (the page it redirects to is the application's own). An answer of 400
// or more on the way is a *LoginError.
func followLogin(ctx context.Context, c *http.Client, loginURL string, isProvider func(host string) bool) error {
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	next, fromProvider := loginURL, false
	for hops := 0; ; hops++ {
		if hops == 20 {
			return &LoginError{URL: next, Reason: "more than 20 redirects"}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return fmt.Errorf("oauthkittest: LoginAs: %w", err)
		}
		callback := fromProvider && !isProvider(req.URL.Host)
		fromProvider = isProvider(req.URL.Host)
		res, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("oauthkittest: LoginAs: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		_ = res.Body.Close()
		if res.StatusCode >= 400 {
			return &LoginError{URL: next, Status: res.StatusCode, Reason: "error answer", Body: strings.TrimSpace(string(body))}
		}
		loc := res.Header.Get("Location")
		if callback || res.StatusCode < 300 || loc == "" {
			return nil
		}
		target, err := req.URL.Parse(loc)
		if err != nil {
			return &LoginError{URL: next, Status: res.StatusCode, Reason: "bad Location " + loc}
		}
		next = target.String()
	}
}

// ticketTransport adds the LoginAs ticket to requests for the provider's
// hosts.
type ticketTransport struct {
	base   http.RoundTripper
	hosts  []string
	ticket string
}

func (t ticketTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if slices.Contains(t.hosts, r.URL.Host) {
		r = r.Clone(r.Context())
		r.Header.Set(ticketHeader, t.ticket)
	}
	return t.base.RoundTrip(r)
}

// serveLogin is the login step the op redirects to. It completes the
// authorization request for, in order: the LoginAs ticket on the request,
// the next SetNextLogin user, a user chosen on the login page (a POST of
// one of its buttons, or of its password form with the user's Password),
// the user a login_hint names. Otherwise it shows the login page.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get("authRequestID")
	p.st.mu.Lock()
	a, ok := p.st.requests[id]
	var req authRequest
	if ok {
		req = *a
	}
	p.st.mu.Unlock()
	if !ok {
		http.Error(w, "unknown authorization request", http.StatusBadRequest)
		return
	}

	subject := ""
	p.mu.Lock()
	if t, ok := p.tickets[r.Header.Get(ticketHeader)]; ok && t.requestID == "" {
		t.requestID = id
		subject = t.subject
	} else if len(p.next) > 0 {
		subject, p.next = p.next[0], p.next[1:]
	}
	p.mu.Unlock()
	if subject == "" && r.Method == http.MethodPost {
		if name := r.PostForm.Get("username"); name != "" || r.PostForm.Has("password") {
			u, ok := p.user(strings.TrimSpace(name))
			if !ok || u.Password == "" || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.PostForm.Get("password"))) != 1 {
				p.loginPage(w, req, http.StatusUnauthorized, name, "Unknown user or wrong password.")
				return
			}
			subject = u.Subject
		} else {
			subject = r.PostForm.Get("subject")
		}
	}
	if subject == "" && req.loginHint != "" {
		if u, ok := p.user(req.loginHint); ok {
			subject = u.Subject
		}
	}
	if subject == "" {
		p.loginPage(w, req, http.StatusOK, req.loginHint, "")
		return
	}
	u, ok := p.user(subject)
	if !ok {
		p.loginPage(w, req, http.StatusBadRequest, "", "Unknown user.")
		return
	}
	p.st.mu.Lock()
	a.subject = u.Subject
	a.authTime = u.AuthTime
	if a.authTime.IsZero() {
		a.authTime = time.Now()
	}
	a.acr = u.ACR
	a.amr = slices.Clone(u.AMR)
	if len(a.amr) == 0 {
		a.amr = []string{"pwd"}
	}
	a.done = true
	p.st.mu.Unlock()
	http.Redirect(w, r, p.op.AuthorizationEndpoint().Absolute(p.issuer)+"/callback?id="+url.QueryEscape(id), http.StatusFound)
}

// loginCSS is the login page's whole style sheet, inline and allowed by
// its hash, so the page loads nothing and its CSP allows nothing else.
const loginCSS = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1d2330;--muted:#5d6675;--line:#dde1e7;--accent:#3056d3;--accent-fg:#fff;--hover:#eef2fd;--bad:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1e232b;--fg:#e7eaf0;--muted:#9aa3b2;--line:#333a45;--accent:#7b9bff;--accent-fg:#0d1220;--hover:#27304a;--bad:#ff8a80}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(440px,100% - 32px);margin:32px 0;background:var(--card);border:1px solid var(--line);border-radius:14px;padding:28px;box-shadow:0 8px 28px rgba(0,0,0,.08)}
.badge{display:inline-block;font-size:12px;font-weight:600;letter-spacing:.04em;text-transform:uppercase;color:var(--accent);border:1px solid var(--accent);border-radius:999px;padding:2px 10px}
h1{font-size:22px;margin:14px 0 4px}
.sub{color:var(--muted);margin:0 0 20px;overflow-wrap:anywhere}
.sub b{color:var(--fg);font-weight:600}
.users{list-style:none;margin:0;padding:0;display:grid;gap:8px}
.users form{margin:0}
.user{width:100%;display:flex;align-items:center;gap:12px;text-align:left;padding:10px 12px;background:transparent;color:inherit;font:inherit;border:1px solid var(--line);border-radius:10px;cursor:pointer}
.user:hover,.user:focus-visible{background:var(--hover);border-color:var(--accent);outline:none}
.avatar{flex:none;width:36px;height:36px;border-radius:50%;display:flex;align-items:center;justify-content:center;background:var(--accent);color:var(--accent-fg);font-weight:700}
.who{display:flex;flex-direction:column;min-width:0}
.who strong,.who span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.who span{color:var(--muted);font-size:13px}
.sep{display:flex;align-items:center;gap:10px;color:var(--muted);font-size:13px;margin:22px 0 14px}
.sep::before,.sep::after{content:"";flex:1;border-top:1px solid var(--line)}
label{display:block;font-size:13px;font-weight:600;margin:10px 0 4px}
input{width:100%;padding:9px 11px;font:inherit;color:inherit;background:transparent;border:1px solid var(--line);border-radius:8px}
input:focus{outline:2px solid var(--accent);outline-offset:-1px}
.primary{width:100%;margin-top:16px;padding:10px;font:inherit;font-weight:600;color:var(--accent-fg);background:var(--accent);border:0;border-radius:8px;cursor:pointer}
.error{color:var(--bad);border:1px solid var(--bad);border-radius:8px;padding:8px 12px;margin:0 0 16px}
.empty{color:var(--muted)}
footer{margin-top:22px;color:var(--muted);font-size:12px}
`

// loginCSP allows the page's one inline style sheet (by hash) and nothing
// else: no script, image, font or frame. It has no form-action: browsers
// check that directive against the redirects after a submission too, and
// the login redirects on to the application's own callback, wherever it
// is; the forms post to the page itself.
var loginCSP = func() string {
	sum := sha256.Sum256([]byte(loginCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; frame-ancestors 'none'"
}()

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sign in · oauthkit test provider</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<span class="badge">Test provider</span>
<h1>Sign in</h1>
<p class="sub">to <b id="client">{{.Client}}</b>{{with .ReturnTo}}, returning to <b id="return-to">{{.}}</b>{{end}}</p>
{{with .Error}}<p class="error" id="error" role="alert">{{.}}</p>{{end}}
{{if .Users}}<ul class="users" id="users">
{{range .Users}}<li><form method="post" action="{{$.Action}}"><input type="hidden" name="authRequestID" value="{{$.ID}}"><button class="user" type="submit" name="subject" value="{{.Subject}}" data-user="{{.Subject}}"><span class="avatar" aria-hidden="true">{{.Initial}}</span><span class="who"><strong>{{.Title}}</strong><span>{{.Detail}}</span></span></button></form></li>
{{end}}</ul>{{else}}<p class="empty">No users yet: register one with AddUser.</p>{{end}}
{{if .Passwords}}<div class="sep">or with a password</div>
<form method="post" action="{{.Action}}" id="password-form">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<label for="username">Username or email</label>
<input id="username" name="username" autocomplete="username" value="{{.Username}}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" id="password-submit" type="submit">Sign in</button>
</form>{{end}}
<footer>oauthkittest: an OpenID Connect provider for tests and local development. Its users are not real accounts.</footer>
</main>
</body>
</html>
`))

// loginUser is a user as the login page shows them.
type loginUser struct {
	Subject, Initial, Title, Detail string
}

// loginPage lists the users, one button each, and the password form when
// a user has a password; msg, when set, is an error shown above them.
func (p *Provider) loginPage(w http.ResponseWriter, req authRequest, status int, username, msg string) {
	p.st.mu.Lock()
	users := make([]loginUser, 0, len(p.st.users))
	passwords := false
	for _, u := range p.st.users {
		passwords = passwords || u.Password != ""
		title := u.Name
		if title == "" {
			title = u.Subject
		}
		var detail []string
		for _, d := range []string{u.Email, u.Subject} {
			if d != "" && d != title && !slices.Contains(detail, d) {
				detail = append(detail, d)
			}
		}
		if len(u.Groups) > 0 {
			detail = append(detail, strings.Join(u.Groups, ", "))
		}
		initial, _ := utf8.DecodeRuneInString(title)
		users = append(users, loginUser{
			Subject: u.Subject, Initial: strings.ToUpper(string(initial)), Title: title, Detail: strings.Join(detail, " · "),
		})
	}
	p.st.mu.Unlock()
	sort.Slice(users, func(i, j int) bool { return users[i].Subject < users[j].Subject })
	returnTo := ""
	if u, err := url.Parse(req.redirectURI); err == nil && u.Host != "" {
		returnTo = u.Scheme + "://" + u.Host
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", loginCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, struct {
		CSS              template.CSS
		Action, ID       string
		Client, ReturnTo string
		Error, Username  string
		Users            []loginUser
		Passwords        bool
	}{template.CSS(loginCSS), loginPath, req.id, req.clientID, returnTo, msg, username, users, passwords})
}
