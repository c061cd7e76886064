package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Marker values of security.md item 65: none may appear in an error string.
const (
	coreMarkAT   = "AT-MARK-1"
	coreMarkRT   = "RT-MARK-2"
	coreMarkCS   = "CS-MARK-3"
	coreMarkCode = "CODE-MARK-4"
	coreMarkVer  = "VER-MARK-5"
)

var coreMarks = []string{coreMarkAT, coreMarkRT, coreMarkCS, coreMarkCode, coreMarkVer}

// coreAssertNoMarks checks every rendering of err for the markers.
func coreAssertNoMarks(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%q", err)} {
		for _, m := range coreMarks {
			assert.NotContains(t, s, m)
		}
	}
}

func TestErrorsNoSecretsInMessages(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		location    string
	}{
		{"400 json error with tokens", http.StatusBadRequest, "application/json",
			`{"error":"invalid_grant","access_token":"AT-MARK-1","refresh_token":"RT-MARK-2","client_secret":"CS-MARK-3"}`, ""},
		{"500 html echoing the request", http.StatusInternalServerError, "text/html",
			"<b>AT-MARK-1</b> code=CODE-MARK-4 code_verifier=VER-MARK-5 client_secret=CS-MARK-3", ""},
		{"401 plain", http.StatusUnauthorized, "text/plain", "bad secret CS-MARK-3", ""},
		{"200 truncated json", http.StatusOK, "application/json", `{"access_token":"AT-MARK-1","tok`, ""},
		{"200 without access_token", http.StatusOK, "application/json", `{"refresh_token":"RT-MARK-2"}`, ""},
		{"200 DPoP", http.StatusOK, "application/json", `{"access_token":"AT-MARK-1","token_type":"DPoP","refresh_token":"RT-MARK-2"}`, ""},
		{"200 with error and a token", http.StatusOK, "application/json", `{"error":"bad_verification_code","access_token":"AT-MARK-1"}`, ""},
		{"200 bad expiry", http.StatusOK, "application/x-www-form-urlencoded", "access_token=AT-MARK-1&refresh_token=RT-MARK-2&expires_in=zzz", ""},
		{"200 html", http.StatusOK, "text/html", "<p>AT-MARK-1</p>", ""},
		{"302 carrying a code", http.StatusFound, "text/html", "<a>CODE-MARK-4</a>", "https://evil.example/cb?code=CODE-MARK-4&token=AT-MARK-1"},
	}
	cfg := func(c *config) { c.ClientSecret = coreMarkCS }
	for _, method := range coreAuthMethods {
		for _, tt := range tests {
			t.Run(string(method)+"/"+tt.name, func(t *testing.T) {
				hc, rec := coreServerFunc(t, func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", tt.contentType)
					if tt.location != "" {
						w.Header().Set("Location", tt.location)
					}
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.body))
				})
				c := coreClient(t, method, hc, cfg)
				_, err := c.AccessToken(context.Background(), coreMarkCode, coreRedirectURI, coreMarkVer)
				coreAssertNoMarks(t, err)
				_, err = c.RefreshToken(context.Background(), coreMarkRT)
				coreAssertNoMarks(t, err)
				if tt.status >= 300 {
					coreAssertNoMarks(t, c.RevokeToken(context.Background(), coreMarkAT, "access_token"))
				}
				assert.Positive(t, rec.count())
			})
		}
	}

	t.Run("transport errors", func(t *testing.T) {
		for _, tc := range coreTransportCases(t) {
			c := coreClient(t, ClientSecretPost, nil, tc.mod, cfg)
			_, err := c.AccessToken(context.Background(), coreMarkCode, coreRedirectURI, coreMarkVer)
			coreAssertNoMarks(t, err)
			_, err = c.RefreshToken(context.Background(), coreMarkRT)
			coreAssertNoMarks(t, err)
			coreAssertNoMarks(t, c.RevokeToken(context.Background(), coreMarkAT, ""))
		}
	})
}

func TestErrorsConfigDoesNotPrintSecret(t *testing.T) {
	cfg := Config{
		ClientID: coreClientID, ClientSecret: coreMarkCS,
		AuthorizeEndpoint: coreAuthorizeURL, AccessTokenEndpoint: coreTokenURL,
	}
	c, err := New(cfg)
	require.NoError(t, err)
	for _, v := range []any{cfg, &cfg, c.Config(), c} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			s := fmt.Sprintf(verb, v)
			assert.NotContains(t, s, coreMarkCS, verb)
			assert.Contains(t, s, coreClientID, verb)
		}
	}
	assert.Equal(t, coreMarkCS, c.cfg.ClientSecret, "the value itself is intact")
}

func TestErrorsRequestErrorMatching(t *testing.T) {
	cause := &OAuthError{StatusCode: 400, Code: "invalid_grant"}
	ops := []struct {
		op     error
		oauth2 bool
	}{
		{ErrGetAccessToken, true},
		{ErrRefreshToken, true},
		{ErrRevokeToken, true},
		{ErrGetLongLivedAccessToken, true},
		{ErrOpenIDConfiguration, true},
		{ErrGetProfile, false},
		{ErrGetIDEmail, false},
	}
	for _, tt := range ops {
		t.Run(tt.op.Error(), func(t *testing.T) {
			err := error(&RequestError{Op: tt.op, Err: cause})
			assert.ErrorIs(t, err, tt.op)
			assert.Equal(t, tt.oauth2, errors.Is(err, ErrOAuth2))
			for _, other := range ops {
				if other.op != tt.op {
					assert.NotErrorIs(t, err, other.op)
				}
			}
			var oe *OAuthError
			require.ErrorAs(t, err, &oe)
			assert.Same(t, cause, oe)
			assert.Equal(t, 400, StatusCode(err))
			assert.Equal(t, tt.op.Error()+": "+cause.Error(), err.Error())
			assert.True(t, strings.HasPrefix(err.Error(), "oauthkit/client: "))

			// Wrapped again by a caller, it still matches.
			wrapped := fmt.Errorf("login: %w", err)
			assert.ErrorIs(t, wrapped, tt.op)
			assert.Equal(t, 400, StatusCode(wrapped))
		})
	}

	for _, s := range []error{ErrNotSupportedAuthMethod, ErrMissingRevokeTokenAuthMethod, ErrInvalidConfig, ErrRefreshNotSupported, ErrRevokeNotSupported} {
		assert.ErrorIs(t, s, ErrOAuth2, s.Error())
	}
	for _, s := range []error{ErrProfileNotSupported, ErrIDEmailNotSupported, ErrGetProfile, ErrGetIDEmail} {
		assert.NotErrorIs(t, s, ErrOAuth2, s.Error())
	}
	assert.Same(t, ErrRevokeNotSupported, ErrRevokeNotSupported)
}

func TestErrorsStatusCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("x"), 0},
		{"sentinel", ErrRefreshNotSupported, 0},
		{"oauth error", &OAuthError{StatusCode: 401, Code: "invalid_client"}, 401},
		{"http error", &HTTPError{StatusCode: 502}, 502},
		{"request error with http error", &RequestError{Op: ErrGetProfile, Err: &HTTPError{StatusCode: 500}}, 500},
		{"request error with transport error", &RequestError{Op: ErrGetAccessToken, Err: &url.Error{Op: "Post", URL: "u", Err: errors.New("refused")}}, 0},
		{"redirect", &RequestError{Op: ErrGetAccessToken, Err: fmt.Errorf("%w: %w", ErrRedirect, &HTTPError{StatusCode: 307})}, 307},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, StatusCode(tt.err))
		})
	}
}

func TestErrorsMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"oauth error", &OAuthError{StatusCode: 400, Code: "invalid_grant", Description: "bad code"},
			`provider error "invalid_grant" (HTTP 400): bad code`},
		{"oauth error without description", &OAuthError{StatusCode: 200, Code: "bad_verification_code"},
			`provider error "bad_verification_code" (HTTP 200)`},
		{"oauth error with control characters", &OAuthError{StatusCode: 400, Code: "x\ny", Description: "a\r\nINFO forged"},
			`provider error "x y" (HTTP 400): a  INFO forged`},
		{"oauth error long description", &OAuthError{StatusCode: 400, Code: "c", Description: strings.Repeat("d", 300)},
			`provider error "c" (HTTP 400): ` + strings.Repeat("d", 200) + "…"},
		{"http error", &HTTPError{StatusCode: 500, ContentType: "text/html", Body: "<secret>"},
			"HTTP 500 response (text/html)"},
		{"not supported auth method", &NotSupportedAuthMethodError{Method: "invalid"},
			`oauthkit/client: auth method "invalid" is not supported`},
		{"sentinel", ErrRefreshNotSupported, "oauthkit/client: refresh token is not supported by this provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}

	nse := error(&NotSupportedAuthMethodError{Method: "x"})
	assert.ErrorIs(t, nse, ErrNotSupportedAuthMethod)
	assert.ErrorIs(t, nse, ErrOAuth2)
	assert.NotErrorIs(t, nse, ErrInvalidConfig)
}

func TestErrorsTransportRedactsURLQuery(t *testing.T) {
	closed := coreClosedServerURL(t)
	c := coreClient(t, ClientSecretPost, nil, func(cfg *config) { cfg.HTTPClient = nil })
	var out map[string]any
	err := c.apiJSON(context.Background(), ErrGetProfile, apiRequest{url: closed + "/me?access_token=" + coreMarkAT}, &out)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrGetProfile)
	assert.NotContains(t, err.Error(), coreMarkAT)
	assert.Contains(t, err.Error(), "redacted")
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.Zero(t, StatusCode(err))
}

func TestErrorsAsIDEmailError(t *testing.T) {
	cause := &HTTPError{StatusCode: 401}
	got := asIDEmailError(&RequestError{Op: ErrGetProfile, Err: cause})
	assert.ErrorIs(t, got, ErrGetIDEmail)
	assert.NotErrorIs(t, got, ErrGetProfile)
	var he *HTTPError
	require.ErrorAs(t, got, &he)
	assert.Same(t, cause, he)

	other := &RequestError{Op: ErrGetAccessToken, Err: cause}
	assert.Same(t, other, asIDEmailError(other).(*RequestError), "other operations are left alone")
	assert.NoError(t, asIDEmailError(nil))
}

// TestErrInvalidGrant: the codes that end a grant match ErrInvalidGrant
// through errors.Is, wrapped as the client returns them; no other code
// does.
func TestErrInvalidGrant(t *testing.T) {
	for code, want := range map[string]bool{
		"invalid_grant":          true,
		"bad_verification_code":  true,
		"invalid_client":         false,
		"invalid_request":        false,
		"unauthorized_client":    false,
		"":                       false,
		"INVALID_GRANT":          false,
		"invalid_grant_extended": false,
	} {
		t.Run(code, func(t *testing.T) {
			hc, _ := coreServer(t, http.StatusBadRequest, "application/json", `{"error":"`+code+`"}`)
			c := coreClient(t, ClientSecretPost, hc)
			_, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, "")
			require.Error(t, err)
			assert.Equal(t, want, errors.Is(err, ErrInvalidGrant))
			_, err = c.RefreshToken(context.Background(), "RT")
			require.Error(t, err)
			assert.Equal(t, want, errors.Is(err, ErrInvalidGrant))
		})
	}
}
