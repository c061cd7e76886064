package client

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces a credential a provider echoed back.
const redacted = "[redacted]"

// secretParams are the form and query parameters that carry credentials.
var secretParams = []string{
	"code", "code_verifier", "refresh_token", "access_token", "token",
	"client_secret", "client_assertion", "appsecret_proof",
}

// requestSecrets returns the credentials req carries, in every form they
// were sent in, so an echo of the raw request is caught too: the
// Authorization header's credential as sent (the base64 of Basic auth, the
// token of Bearer), the client secret inside Basic auth (form-encoded and
// decoded), and the secret parameters of its query and form body (read
// again through GetBody), decoded and percent-encoded. Values shorter than
// 4 bytes are left out: replacing them would garble messages without
// protecting anything.
func requestSecrets(req *http.Request) []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if len(v) >= 4 {
				out = append(out, v)
			}
		}
	}
	addParam := func(vs ...string) {
		for _, v := range vs {
			add(v, url.QueryEscape(v))
		}
	}
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		add(strings.TrimSpace(cred))
	}
	if _, secret, ok := req.BasicAuth(); ok {
		unescaped, _ := url.QueryUnescape(secret)
		add(secret, unescaped)
	}
	q := req.URL.Query()
	for _, k := range secretParams {
		addParam(q[k]...)
	}
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
			_ = rc.Close()
			if form, err := url.ParseQuery(string(b)); err == nil {
				for _, k := range secretParams {
					addParam(form[k]...)
				}
			}
		}
	}
	return out
}

// redactSecrets removes every credential of req from the provider-controlled
// text of err (an *OAuthError's description and URI, an *HTTPError's body
// excerpt), so a provider that echoes the code, a token or the secret in its
// error response cannot put it into error strings and logs. Other errors are returned as they are.
func redactSecrets(req *http.Request, err error) error {
	switch err.(type) {
	case *OAuthError, *HTTPError:
		return redactValues(err, requestSecrets(req)...)
	}
	return err
}

// redactValues replaces each secret (4 bytes or longer) in the
// provider-controlled text of err, for providers that report errors inside
// 2xx documents (Naver's resultcode, Slack's ok:false), where the request
// is not at hand but the token is.
func redactValues(err error, secrets ...string) error {
	switch e := err.(type) {
	case *OAuthError:
		e.Code = scrubText(e.Code, secrets)
		e.Description = scrubText(e.Description, secrets)
		e.URI = scrubText(e.URI, secrets)
	case *HTTPError:
		e.Body = scrubText(e.Body, secrets)
	}
	return err
}

// scrubText replaces each secret (4 bytes or longer) in s, longest first so
// a secret that contains another (a base64 Basic credential, a
// percent-encoded value) is replaced whole.
func scrubText(s string, secrets []string) string {
	if s == "" {
		return s
	}
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	return s
}
