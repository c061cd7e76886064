package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GitLabDotCom is the base URL NewGitLab uses.
const GitLabDotCom = "https://gitlab.com"

// GitLabParams are the extra authorization parameters of GitLab. GitLab
// documents none beyond the protocol ones, so it has no fields; it exists
// so the client has a typed parameter like the others.
type GitLabParams struct{}

// AuthParams implements Params.
func (GitLabParams) AuthParams() url.Values { return nil }

// GitLab is the client for one GitLab instance. It refreshes at the token
// endpoint and revokes per RFC 7009 at /oauth/revoke.
//
// Identify: Subject is "id" of GET /api/v4/user, unique within the
// instance (use WithName to tell instances apart). Email is "email", the
// primary address, and EmailVerified is true when "confirmed_at" is set
// (GitLab confirmed the account's email). Name is "name", else "username";
// AvatarURL is "avatar_url".
//
// GitLab (gitlab.com or a self-managed instance), following GitLab's OAuth
// 2.0 provider API (https://docs.gitlab.com/api/oauth2/) and Users API
// (https://docs.gitlab.com/api/users/#get-the-current-user). Upstream never
// shipped a GitLab client (PR #341 was closed); this follows that PR's shape.
//
// Default scopes: read_user, the smallest scope that can read /api/v4/user
// (openid/email alone only reach the OIDC userinfo endpoint).
// Id: "id" of GET {base}/api/v4/user, as a decimal string.
// Email: "email" (the primary email) only when "confirmed_at" is set, i.e.
// GitLab has confirmed the account's email; otherwise "".
type GitLab struct {
	*OAuth2
	baseURL string
}

var _ Provider = (*GitLab)(nil)

// NewGitLab returns a gitlab.com client named "gitlab" (display name
// "GitLab") with the default scope read_user. It does no I/O.
func NewGitLab(clientID, clientSecret string, opts ...Option) (*GitLab, error) {
	return NewGitLabAt(GitLabDotCom, clientID, clientSecret, opts...)
}

// NewGitLabAt is NewGitLab for a self-managed instance. baseURL is the
// instance root, with a path when GitLab is installed under one
// ("https://example.com/gitlab"); it must be an absolute https URL without
// user info, query or fragment, else the error matches ErrInvalidConfig. A
// trailing slash is ignored. Use WithName to tell two instances apart.
func NewGitLabAt(baseURL, clientID, clientSecret string, opts ...Option) (*GitLab, error) {
	base, err := gitlabBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	b, err := newClient("gitlab", config{
		ClientID:                     clientID,
		ClientSecret:                 clientSecret,
		AuthorizeEndpoint:            base + "/oauth/authorize",
		AccessTokenEndpoint:          base + "/oauth/token",
		RefreshTokenEndpoint:         base + "/oauth/token",
		RevokeTokenEndpoint:          base + "/oauth/revoke",
		Name:                         "gitlab",
		DisplayName:                  "GitLab",
		BaseScopes:                   []string{"read_user"},
		TokenEndpointAuthMethod:      ClientSecretPost,
		RevocationEndpointAuthMethod: ClientSecretPost,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &GitLab{OAuth2: b, baseURL: base}, nil
}

func gitlabBaseURL(raw string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: GitLab base URL %q %s", ErrInvalidConfig, sanitize(raw, 200), why)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", bad("does not parse")
	case u.Scheme != "https" || u.Opaque != "":
		return "", bad("is not an absolute https URL")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("has no host")
	case u.User != nil:
		return "", bad("must not have user info")
	case u.RawQuery != "" || u.ForceQuery:
		return "", bad("must not have a query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", bad("must not have a fragment")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "", bad("must not have dot segments")
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// BaseURL returns the instance root the endpoints are built on.
func (g *GitLab) BaseURL() string { return g.baseURL }

// Profile returns the /api/v4/user document.
func (g *GitLab) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	raw, _, err := g.user(ctx, ErrGetProfile, accessToken)
	return raw, err
}

// IDEmail returns the user id and, when the account's email is confirmed,
// the primary email.
func (g *GitLab) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := g.identity(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify reads /api/v4/user with t's access token; see GitLab.
func (g *GitLab) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, g.identity)
}

func (g *GitLab) identity(ctx context.Context, accessToken string) (*Identity, error) {
	_, m, err := g.user(ctx, ErrGetIDEmail, accessToken)
	if err != nil {
		return nil, err
	}
	sub, ok := idString(m["id"])
	if !ok {
		return nil, identityError(ErrGetIDEmail, "gitlab: id")
	}
	return &Identity{
		Subject:       sub,
		Email:         str(m["email"]),
		EmailVerified: str(m["confirmed_at"]) != "",
		Name:          firstNonEmpty(str(m["name"]), str(m["username"])),
		AvatarURL:     pictureURL(m["avatar_url"]),
	}, nil
}

func (g *GitLab) user(ctx context.Context, op error, accessToken string) (json.RawMessage, map[string]any, error) {
	return fetchUserObject(ctx, g.OAuth2, op, apiRequest{
		method: http.MethodGet,
		url:    g.baseURL + "/api/v4/user",
		header: bearer(accessToken),
	})
}
