package client

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Identity is who the provider says signed in, as [Provider.Identify]
// returns it. Key accounts by (provider name, Subject), never by Email.
type Identity struct {
	// Subject is the user's id at the provider: stable, unique within the
	// provider (tenant-scoped for Microsoft), never empty. Each provider
	// type's doc says which id it is.
	Subject string
	// Email is the primary address the provider gives, or "". It is set
	// even when the provider does not vouch for it: check EmailVerified.
	Email string
	// EmailVerified reports that the provider asserts the user controls
	// Email; it is never true with an empty Email.
	EmailVerified bool
	// Name is the display name, where the provider gives one.
	Name string
	// AvatarURL is an https picture URL, where the provider gives one.
	AvatarURL string
	// Issuer is the verified ID token's "iss", "" without an ID token. With
	// Subject or SessionID it names what a logout token refers to.
	Issuer string
	// SessionID is the verified ID token's "sid" (OpenID Connect Front- and
	// Back-Channel Logout), "" when the provider sends none: the provider's
	// login session, which its logout notifications name.
	SessionID string
	// Claims are all the claims of the ID token Identify verified
	// (signature, iss, aud, exp, nonce), nil when it verified none. Only
	// these claims can be trusted for authorization decisions such as
	// Google's "hd" or Entra's "tid"; user-API documents never land here.
	// The map is the caller's, read-only by convention.
	Claims map[string]any
}

// checkSubject reports, as an ErrIDToken error wrapping ErrIDTokenSubject,
// whether the id a user API returned differs from the verified ID token's
// subject (OIDC Core §5.3.2: the UserInfo sub must match the ID token's).
// Nil claims (no ID token was expected) pass.
func checkSubject(claims *IDClaims, id string) error {
	if claims == nil {
		return nil
	}
	if claims.Subject == "" || subtle.ConstantTimeCompare([]byte(claims.Subject), []byte(id)) != 1 {
		return &RequestError{Op: ErrIDToken, Err: fmt.Errorf("%w: user API id differs from the id token subject", ErrIDTokenSubject)}
	}
	return nil
}

// accessToken returns t's access token; Identify without one is an
// ErrGetIDEmail error before any I/O rather than a request with an empty
// credential.
func accessToken(t *Token) (string, error) {
	if t == nil || t.AccessToken == "" {
		return "", &RequestError{Op: ErrGetIDEmail, Err: ErrMissingAccessToken}
	}
	return t.AccessToken, nil
}

// identifyWith is the Identify of clients with a user API and no ID token:
// user reads the identity with the access token.
func identifyWith(ctx context.Context, t *Token, user func(ctx context.Context, accessToken string) (*Identity, error)) (*Identity, error) {
	at, err := accessToken(t)
	if err != nil {
		return nil, err
	}
	id, err := user(ctx, at)
	if err != nil {
		return nil, err
	}
	return id.checked()
}

// checked enforces the invariants every Identify result has: a non-blank
// subject, and no verified flag without an address.
func (id *Identity) checked() (*Identity, error) {
	if id == nil || strings.TrimSpace(id.Subject) == "" {
		return nil, identityError(ErrGetIDEmail, "empty subject")
	}
	if strings.TrimSpace(id.Email) == "" {
		id.Email, id.EmailVerified = "", false
	}
	return id, nil
}

// idEmail is IDEmail's answer from an identity: the email only when it is
// verified, unless the provider's IDEmail has always returned it as is.
func idEmailOf(id *Identity, err error, unverified bool) (string, string, error) {
	if err != nil {
		return "", "", err
	}
	if !id.EmailVerified && !unverified {
		return id.Subject, "", nil
	}
	return id.Subject, id.Email, nil
}

// notSupported is the Identify error of clients without a user API: it
// matches ErrIDEmailNotSupported.
func notSupported(name string) error {
	return fmt.Errorf("%w: client %q has no user API; wrap it and implement Identify", ErrIDEmailNotSupported, sanitize(name, 64))
}

// pictureURL keeps an avatar URL only when it is an absolute http(s) URL, so
// a provider-controlled value cannot become a javascript: or data: URL in a
// page's <img src>.
func pictureURL(v any) string {
	s, _ := v.(string)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return s
}

// str is a trimmed string member, "" for anything else.
func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// firstNonEmpty returns the first non-empty value.
func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// claimsIdentity reads the standard claims (OIDC Core §5.1) of an ID token
// or UserInfo document; the subject is set by the caller.
func claimsIdentity(m map[string]any) Identity {
	name := str(m["name"])
	if name == "" {
		name = strings.TrimSpace(str(m["given_name"]) + " " + str(m["family_name"]))
	}
	return Identity{
		Email:         str(m["email"]),
		EmailVerified: verifiedFlag(m["email_verified"]),
		Name:          name,
		AvatarURL:     pictureURL(m["picture"]),
	}
}

// identify is Identify for OpenID Connect clients: the ID token is verified
// first (a missing one is an error when the client asked for one); then,
// when user is not nil, the user API is read with the access token and its
// subject must equal the ID token's. Members the user API lacks (email,
// name, picture) are taken from the ID token; the email and its verified
// flag always come together from one source. Without a user API the ID
// token alone is the identity, and without either the error matches
// ErrIDEmailNotSupported.
func (o *oidcCore) identify(ctx context.Context, name string, t *Token, nonce string, verify func(context.Context, *Token, string) (*IDClaims, map[string]any, error), user func(ctx context.Context, accessToken string) (*Identity, error)) (*Identity, error) {
	claims, m, err := verify(ctx, t, nonce)
	if err != nil {
		return nil, err
	}
	var fromToken *Identity
	if claims != nil {
		ci := claimsIdentity(m)
		ci.Subject = claims.Subject
		ci.Issuer, ci.SessionID = claims.Issuer, str(m["sid"])
		ci.Claims = m
		fromToken = &ci
	}
	if user == nil {
		if fromToken == nil {
			return nil, notSupported(name)
		}
		return fromToken.checked()
	}
	at, err := accessToken(t)
	if err != nil {
		return nil, err
	}
	if t.DPoPKey != nil {
		// A DPoP-bound token is refused as a Bearer one (RFC 9449 §7.1).
		ctx = ContextWithDPoPKey(ctx, t.DPoPKey)
	}
	id, err := user(ctx, at)
	if errors.Is(err, ErrProfileNotSupported) || errors.Is(err, ErrIDEmailNotSupported) {
		if fromToken == nil {
			return nil, notSupported(name)
		}
		return fromToken.checked()
	}
	if err != nil {
		return nil, asIDEmailError(err)
	}
	if err := checkSubject(claims, id.Subject); err != nil {
		return nil, err
	}
	if fromToken != nil {
		if id.Email == "" {
			id.Email, id.EmailVerified = fromToken.Email, fromToken.EmailVerified
		}
		id.Name = firstNonEmpty(id.Name, fromToken.Name)
		id.AvatarURL = firstNonEmpty(id.AvatarURL, fromToken.AvatarURL)
		id.Issuer, id.SessionID = fromToken.Issuer, fromToken.SessionID
		id.Claims = fromToken.Claims
	} else {
		id.Claims = nil // a user API cannot pose as a verified ID token
	}
	return id.checked()
}

// userinfoIdentity reads the UserInfo document as an Identity; its "sub"
// is required.
func (o *oidcCore) userinfoIdentity(m map[string]any) (*Identity, error) {
	sub, ok := idString(m["sub"])
	if !ok {
		return nil, identityError(ErrGetIDEmail, "userinfo sub")
	}
	id := claimsIdentity(m)
	id.Subject = sub
	return &id, nil
}

// userinfoUser is the user function of identify for clients whose user API
// is the standard UserInfo endpoint; nil when there is none.
func (o *oidcCore) userinfoUser(cfg *config) func(context.Context, string) (*Identity, error) {
	if o.userinfoURL == "" {
		return nil
	}
	return func(ctx context.Context, at string) (*Identity, error) {
		_, m, err := o.userinfo(ctx, cfg, at)
		if err != nil {
			return nil, err
		}
		return o.userinfoIdentity(m)
	}
}
