package oauthkit

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/oauthkit/oauthkit/client"
)

// ErrInvalidLoginParam (400): the login route's query carries a parameter
// Provider.LoginParams allows with a value it cannot forward (repeated,
// malformed, or outside the parameter's grammar).
var ErrInvalidLoginParam = errors.New("oauthkit: invalid login parameter")

// loginParams are the authorization parameters a login route may forward
// from its own query, each with the check its value must pass. Protocol
// parameters (redirect_uri, state, scope, response_type, PKCE, nonce) are
// never among them.
var loginParams = map[string]func(string) bool{
	"prompt":      validPrompt,
	"login_hint":  func(v string) bool { return len(v) <= 256 && printable(v) },
	"max_age":     validMaxAge,
	"acr_values":  func(v string) bool { return len(v) <= 512 && tokens(v) },
	"ui_locales":  func(v string) bool { return len(v) <= 256 && tokens(v) },
	"hd":          validDomain,
	"domain_hint": validDomain,
}

// checkLoginParams validates Provider.LoginParams at New.
func checkLoginParams(names []string) error {
	for _, n := range names {
		if _, ok := loginParams[n]; !ok {
			return fmt.Errorf("LoginParams: %q cannot be forwarded (allowed: prompt, login_hint, max_age, acr_values, ui_locales, hd, domain_hint)", n)
		}
	}
	return nil
}

// loginQuery reads the login route's query: the authorization parameters
// (authParams) and the return-to (SafeReturnTo of "next", "" when refused).
// Without LoginParams only "next" matters, found without building a map.
func (p *providerState) loginQuery(rawQuery string) (client.Params, string, error) {
	if len(p.LoginParams) == 0 {
		returnTo, _ := SafeReturnTo(queryValue(rawQuery, "next"))
		return p.AuthParams, returnTo, nil
	}
	q, _ := url.ParseQuery(rawQuery) // as Request.URL.Query: errors skip the pair
	params, err := p.authParams(q)
	if err != nil {
		return nil, "", err
	}
	returnTo, _ := SafeReturnTo(q.Get("next"))
	return params, returnTo, nil
}

// queryValue is url.ParseQuery(rawQuery).Get(key) without the map: the
// first pair whose unescaped key is key, skipping the pairs ParseQuery
// skips (a ";" in the pair, a malformed escape in key or value).
func queryValue(rawQuery, key string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			// Only an escaped key can still unescape to key.
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			return uv
		}
	}
	return ""
}

// authParams are p's AuthParams plus the parameters of the login route's
// query that p.LoginParams allows; anything else in the query is dropped.
// A forwarded value replaces a configured one of the same name.
func (p *providerState) authParams(q url.Values) (client.Params, error) {
	if len(p.LoginParams) == 0 {
		return p.AuthParams, nil
	}
	out := url.Values{}
	if p.AuthParams != nil {
		for k, vs := range p.AuthParams.AuthParams() {
			out[k] = append([]string(nil), vs...)
		}
	}
	for _, name := range p.LoginParams {
		vs, ok := q[name]
		if !ok {
			continue
		}
		if len(vs) != 1 || !loginParams[name](vs[0]) {
			return nil, fmt.Errorf("%w: %s", ErrInvalidLoginParam, name)
		}
		out.Set(name, vs[0])
	}
	return client.Values(out), nil
}

// validPrompt accepts the OIDC Core §3.1.2.1 values (and "create", OpenID
// Connect Prompt Create), space-separated, "none" alone.
func validPrompt(v string) bool {
	fs, ok := spaceList(v)
	if !ok {
		return false
	}
	for _, f := range fs {
		switch f {
		case "login", "consent", "select_account", "create":
		case "none":
			if len(fs) > 1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func validMaxAge(v string) bool {
	n, err := strconv.ParseUint(v, 10, 31)
	return err == nil && v == strconv.FormatUint(n, 10)
}

// validDomain accepts a DNS name: letters, digits, '-' and '.', 1-253 long.
func validDomain(v string) bool {
	if v == "" || len(v) > 253 || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// spaceList splits a space-separated list, refusing an empty one and any
// other whitespace (leading, trailing, doubled, tabs).
func spaceList(v string) ([]string, bool) {
	fs := strings.Fields(v)
	return fs, len(fs) > 0 && strings.Join(fs, " ") == v
}

// tokens accepts space-separated tokens of visible ASCII.
func tokens(v string) bool {
	if _, ok := spaceList(v); !ok {
		return false
	}
	for _, r := range v {
		if r != ' ' && (r <= ' ' || r > '~') {
			return false
		}
	}
	return true
}

// printable rejects control characters (a hint ends up in the provider's
// form and logs); any other Unicode, an email address included, passes.
func printable(v string) bool {
	if v == "" {
		return false
	}
	return !strings.ContainsFunc(v, isControl)
}
