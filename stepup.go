package oauthkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/client"
)

// ErrStepUpFailed (403): a login that asked the provider for a recent
// authentication (max_age) or an authentication context (acr_values) came
// back with an ID token that does not prove it: no verified ID token at
// all (a provider without OpenID Connect cannot step up), no auth_time, an
// auth_time older than max_age allows or in the future, or an acr that was
// not requested. A provider that ignores the request fails here. The login
// is refused and the session is left as it was: a user signed in before
// stays signed in with their earlier login.
var ErrStepUpFailed = errors.New("oauthkit: the provider did not prove the requested authentication")

// stepUpLeeway is the clock skew allowed between the kit and the provider
// when auth_time is compared with max_age, at the callback and in
// RequireRecentAuth alike (so a login that passed the one passes the other).
const stepUpLeeway = time.Minute

// The login route's query parameters that carry a step-up request from
// RequireRecentAuth. They are the kit's own, read whatever
// Provider.LoginParams lists, and become the max_age and acr_values sent
// to the provider.
const (
	stepUpMaxAgeParam = "step_up_max_age"
	stepUpACRParam    = "step_up_acr_values"
)

// RequireRecentAuth is RequireAuth for pages that need a recent login
// (changing a password, a payment) or a stronger one (an acr such as a
// multi-factor level). A signed-in user passes when the provider
// authenticated them within maxAge (User.AuthTime, by Config.Now, with a
// one-minute allowance for clock skew) and, when acr values are given,
// with one of them (User.ACR). Anyone else signed in is sent again through
// their provider: GET and HEAD page requests are redirected (302) to the
// provider's Provider.LoginPath (default Config.LoginPath) with "next" and
// a step-up request, which LoginHandler turns into max_age=<maxAge in
// seconds> and acr_values=<acr, space-separated>; other requests, and
// those asking for JSON, get 401. Anonymous requests are treated as
// RequireAuth treats them.
//
// The callback of such a login verifies the ID token's auth_time and acr
// against what was sent, and refuses the login with ErrStepUpFailed when
// they do not match: a provider that ignores max_age or acr_values does
// not pass, and a user who edits the request away only logs in again
// without passing this check. Only auth_time and acr from a verified ID
// token count, so a provider without ID tokens never satisfies it.
//
// It panics on a negative maxAge or an acr value that is empty or holds a
// space or control character: a configuration mistake, as LoginHandler's
// unknown provider is.
func (k *Kit) RequireRecentAuth(maxAge time.Duration, acr ...string) func(http.Handler) http.Handler {
	if maxAge < 0 {
		panic(fmt.Sprintf("oauthkit: RequireRecentAuth(%v): negative maxAge", maxAge))
	}
	for _, a := range acr {
		if !tokens(a) || strings.Contains(a, " ") {
			panic(fmt.Sprintf("oauthkit: RequireRecentAuth: invalid acr value %q", a))
		}
	}
	seconds := int64(maxAge / time.Second)
	if seconds > math.MaxInt32 {
		seconds = math.MaxInt32
	}
	query := stepUpMaxAgeParam + "=" + strconv.FormatInt(seconds, 10)
	if len(acr) > 0 {
		query += "&" + stepUpACRParam + "=" + url.QueryEscape(strings.Join(acr, " "))
	}
	acr = slices.Clone(acr)
	window := time.Duration(seconds)*time.Second + stepUpLeeway
	return func(next http.Handler) http.Handler {
		return k.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, _ := r.Context().Value(userKey{k}).(*User)
			if u != nil && recentAuth(u, k.cfg.Now(), window, acr) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			if (r.Method != http.MethodGet && r.Method != http.MethodHead) || wantsJSON(r) || u == nil {
				http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
				return
			}
			target := k.cfg.LoginPath
			if p, err := k.byName(r.Context(), u.Provider); err == nil && p.LoginPath != "" {
				target = p.LoginPath
			}
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + query
			if rt, ok := SafeReturnTo(r.URL.RequestURI()); ok && rt != "/" {
				target += "&next=" + url.QueryEscape(rt)
			}
			http.Redirect(w, r, target, http.StatusFound)
		}))
	}
}

// recentAuth reports whether u's login is within window of now and, when
// acr is not empty, was made with one of its values.
func recentAuth(u *User, now time.Time, window time.Duration, acr []string) bool {
	if u.AuthTime.IsZero() || u.AuthTime.After(now.Add(stepUpLeeway)) || now.Sub(u.AuthTime) > window {
		return false
	}
	return len(acr) == 0 || u.ACR != "" && slices.Contains(acr, u.ACR)
}

// stepUpParams are params with the step-up request of the login route's
// query (see RequireRecentAuth) as max_age and acr_values, replacing any
// configured or forwarded ones; params itself when there is none. A value
// outside the grammar of its parameter is ErrInvalidLoginParam.
func stepUpParams(params client.Params, rawQuery string) (client.Params, error) {
	maxAge, acr := queryValue(rawQuery, stepUpMaxAgeParam), queryValue(rawQuery, stepUpACRParam)
	if maxAge == "" && acr == "" {
		return params, nil
	}
	if maxAge != "" && !validMaxAge(maxAge) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidLoginParam, stepUpMaxAgeParam)
	}
	if acr != "" && !loginParams["acr_values"](acr) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidLoginParam, stepUpACRParam)
	}
	out := url.Values{}
	if params != nil {
		for k, vs := range params.AuthParams() {
			out[k] = append([]string(nil), vs...)
		}
	}
	if maxAge != "" {
		out.Set("max_age", maxAge)
	}
	if acr != "" {
		out.Set("acr_values", acr)
	}
	return client.Values(out), nil
}

// requested is what a login asks the provider to prove: the max_age and
// acr_values among params ("" for each it does not send, or sends with a
// value outside its grammar, which no ID token could be checked against).
func requested(params client.Params) (maxAge, acr string) {
	if params == nil {
		return "", ""
	}
	v := params.AuthParams()
	if m := v.Get("max_age"); validMaxAge(m) {
		maxAge = m
	}
	if a := v.Get("acr_values"); a != "" && loginParams["acr_values"](a) {
		acr = a
	}
	return maxAge, acr
}

// checkStepUp verifies that the verified ID token claims prove what the
// pending login pl asked for (see ErrStepUpFailed).
func checkStepUp(pl pendingLogin, claims map[string]any, now time.Time) error {
	if pl.MaxAge == "" && pl.ACR == "" {
		return nil
	}
	if claims == nil {
		return wrap(ErrStepUpFailed, errors.New("no verified ID token"))
	}
	if pl.MaxAge != "" {
		at, ok := authTime(claims)
		if !ok {
			return wrap(ErrStepUpFailed, errors.New("no auth_time in the ID token"))
		}
		if at.After(now.Add(stepUpLeeway)) {
			return wrap(ErrStepUpFailed, errors.New("auth_time is in the future"))
		}
		secs, _ := strconv.ParseInt(pl.MaxAge, 10, 64) // checked when decoded
		if now.Sub(at) > time.Duration(secs)*time.Second+stepUpLeeway {
			return wrap(ErrStepUpFailed, errors.New("authentication older than max_age"))
		}
	}
	if pl.ACR != "" {
		got, _ := claims["acr"].(string)
		if got == "" || !slices.Contains(strings.Fields(pl.ACR), got) {
			return wrap(ErrStepUpFailed, errors.New("acr is not one requested"))
		}
	}
	return nil
}

// authTime is the auth_time claim (seconds since the epoch, OIDC Core §2),
// false when it is missing or not a whole number of seconds in range.
func authTime(claims map[string]any) (time.Time, bool) {
	var f float64
	switch v := claims["auth_time"].(type) {
	case float64:
		f = v
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		f = n
	default:
		return time.Time{}, false
	}
	if f != math.Trunc(f) || f <= 0 || f > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// loginACR is the acr claim of the verified ID token claims, "" if none.
func loginACR(claims map[string]any) string {
	s, _ := claims["acr"].(string)
	return s
}
