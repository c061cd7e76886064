package client

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// TestPKCERFC7636Vector is RFC 7636 Appendix B.
func TestPKCERFC7636Vector(t *testing.T) {
	assert.Equal(t, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
}

var coreBase64URL43 = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestPKCEGenerateVerifier(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		v := GenerateVerifier()
		// 32 random bytes, base64url without padding (RFC 7636 §4.1).
		require.Regexp(t, coreBase64URL43, v)
		require.False(t, seen[v], "duplicate verifier %q", v)
		seen[v] = true
		assert.Regexp(t, coreBase64URL43, S256Challenge(v))
	}
}

var coreStateAlphabet = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestPKCEGenerateState(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		s := GenerateState()
		// 256 bits in base64url is 43 characters.
		require.Regexp(t, `^[A-Za-z0-9_-]{43}$`, s)
		require.Regexp(t, coreStateAlphabet, s, "URL-safe without escaping")
		require.Equal(t, s, url.QueryEscape(s))
		require.False(t, seen[s], "duplicate state %q", s)
		seen[s] = true
	}
}

// TestPKCEFlow runs a whole PKCE login against a server that checks the
// verifier against the challenge it was given in the authorization URL.
func TestPKCEFlow(t *testing.T) {
	for _, method := range coreAuthMethods {
		t.Run(string(method), func(t *testing.T) {
			var challenge string
			var rec *coreRecorder
			var hc *http.Client
			hc, rec = coreServerFunc(t, func(w http.ResponseWriter, r *http.Request) {
				form, _ := url.ParseQuery(rec.last().Body)
				if S256Challenge(form.Get("code_verifier")) != challenge {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"PKCE verification failed"}`))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(coreAccessTokenJSON))
			})
			c := coreClient(t, method, hc)
			verifier, state := GenerateVerifier(), GenerateState()
			authURL, err := c.AuthCodeURL(coreRedirectURI, AuthURLOptions{
				State: state, CodeChallenge: S256Challenge(verifier), CodeChallengeMethod: "S256",
			}, nil)
			require.NoError(t, err)
			u, err := url.Parse(authURL)
			require.NoError(t, err)
			q := u.Query()
			assert.Equal(t, state, q.Get("state"))
			assert.Equal(t, "S256", q.Get("code_challenge_method"))
			challenge = q.Get("code_challenge")

			// A wrong verifier is refused by the server; the good one works.
			_, err = c.AccessToken(context.Background(), "CODE", coreRedirectURI, GenerateVerifier())
			coreAssertResponseError(t, err, ErrGetAccessToken, http.StatusBadRequest, "invalid_grant", nil)
			tok, err := c.AccessToken(context.Background(), "CODE", coreRedirectURI, verifier)
			require.NoError(t, err)
			assert.Equal(t, "ACCESS_TOKEN", tok.AccessToken)
			assert.Equal(t, 2, rec.count())
		})
	}
}

// S256Challenge gives what x/oauth2 gives, for verifiers of every length
// RFC 7636 allows and beyond.
func TestPKCES256ChallengeMatchesXOAuth2(t *testing.T) {
	for n := 0; n <= 200; n++ {
		v := strings.Repeat("v", n)
		assert.Equal(t, oauth2.S256ChallengeFromVerifier(v), S256Challenge(v), "length %d", n)
	}
	v := GenerateVerifier()
	assert.Equal(t, oauth2.S256ChallengeFromVerifier(v), S256Challenge(v))
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _ = S256Challenge(v) }), 1.0)
}

// A login draws a state and a verifier: each costs its string alone.
func TestPKCEGenerateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _ = GenerateVerifier() }), 1.0)
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _ = GenerateState() }), 1.0)
}
