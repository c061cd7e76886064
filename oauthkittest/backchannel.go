package oauthkittest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrBackChannelLogout is a back-channel logout the application did not
// accept: its backchannel_logout_uri could not be reached or did not
// answer 200.
var ErrBackChannelLogout = errors.New("oauthkittest: back-channel logout refused")

const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a back-channel logout token (OpenID Connect Back-Channel
// Logout 1.0 §2.4) from this provider to clientID, signed with the current
// key, naming subject and, when not empty, the provider session sid (the
// "sid" of the login's ID tokens). A test can send it itself, twice (a
// replay), or alter it.
func (p *Provider) LogoutToken(clientID, subject, sid string) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss": p.issuer, "aud": clientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": rand.Text(), "events": map[string]any{backChannelEvent: map[string]any{}},
	}
	if subject != "" {
		claims["sub"] = subject
	}
	if sid != "" {
		claims["sid"] = sid
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	k := p.st.keys.signer()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// LogoutUser logs user (a Subject or an Email) out at the provider, as an
// administrator or the user's "sign out everywhere" would: every grant of
// the user ends, and each client registered with a BackChannelLogoutURI
// receives a logout token per provider session (sub and sid). Failed
// deliveries are joined in the error (each matching ErrBackChannelLogout).
func (p *Provider) LogoutUser(ctx context.Context, user string) error {
	u, ok := p.user(user)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	type delivery struct{ uri, clientID, sid string }
	var out []delivery
	p.st.mu.Lock()
	for id, g := range p.st.grants {
		if g.subject != u.Subject || g.ended {
			continue
		}
		p.st.endGrant(id)
		if c, ok := p.st.clients[g.clientID]; ok && c.BackChannelLogoutURI != "" {
			out = append(out, delivery{c.BackChannelLogoutURI, c.ID, id})
		}
	}
	p.st.mu.Unlock()
	var errs []error
	for _, d := range out {
		errs = append(errs, p.deliverLogout(ctx, d.uri, d.clientID, u.Subject, d.sid))
	}
	return errors.Join(errs...)
}

// deliverLogout POSTs one logout token to uri.
func (p *Provider) deliverLogout(ctx context.Context, uri, clientID, subject, sid string) error {
	tok, err := p.LogoutToken(clientID, subject, sid)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBackChannelLogout, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBackChannelLogout, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d: %q", ErrBackChannelLogout, uri, res.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
