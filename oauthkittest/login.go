package oauthkittest

import (
	"context"
	"crypto/rand"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
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
// the next SetNextLogin user, the user a login_hint names. Otherwise it
// shows a page with one button per user (POST completes the login).
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get("authRequestID")
	p.st.mu.Lock()
	a, ok := p.st.requests[id]
	hint := ""
	if ok {
		hint = a.loginHint
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
		subject = r.PostForm.Get("subject")
	}
	if subject == "" && hint != "" {
		if u, ok := p.user(hint); ok {
			subject = u.Subject
		}
	}
	if subject == "" {
		p.loginPage(w, id)
		return
	}
	u, ok := p.user(subject)
	if !ok {
		http.Error(w, "unknown user", http.StatusBadRequest)
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

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in</title>
<h1>Sign in to the test provider</h1>
{{range .Users}}<form method="post"><input type="hidden" name="authRequestID" value="{{$.ID}}"><input type="hidden" name="subject" value="{{.Subject}}"><button type="submit">{{.Subject}}{{with .Email}} ({{.}}){{end}}</button></form>
{{else}}<p>No users: register one with AddUser.</p>{{end}}`))

// loginPage lists the users, one button each.
func (p *Provider) loginPage(w http.ResponseWriter, id string) {
	p.st.mu.Lock()
	users := make([]User, 0, len(p.st.users))
	for _, u := range p.st.users {
		users = append(users, *u)
	}
	p.st.mu.Unlock()
	sort.Slice(users, func(i, j int) bool { return users[i].Subject < users[j].Subject })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
	_ = loginTemplate.Execute(w, struct {
		ID    string
		Users []User
	}{id, users})
}
