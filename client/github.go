package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

const (
	githubAuthorizeURL = "https://github.com/login/oauth/authorize"
	githubTokenURL     = "https://github.com/login/oauth/access_token"
	githubUserURL      = "https://api.github.com/user"
	githubEmailsURL    = "https://api.github.com/user/emails"
	// githubMembershipURL is followed by the organization's login.
	githubMembershipURL = "https://api.github.com/user/memberships/orgs/"
)

// githubLoginRE is GitHub's grammar of user and organization logins:
// letters, digits and single inner hyphens (at most 39 characters,
// checked apart). Nothing else may be pasted into an API path.
var githubLoginRE = regexp.MustCompile(`^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

// ValidGitHubLogin reports whether s is a well-formed GitHub user or
// organization login, the only kind OrgMembership accepts.
func ValidGitHubLogin(s string) bool {
	return len(s) <= 39 && githubLoginRE.MatchString(s)
}

// GitHubDefaultAPIVersion is the REST API version sent in
// X-GitHub-Api-Version unless [WithGitHubAPIVersion] says otherwise; a
// pinned version keeps a future default from changing the answers' shape.
const GitHubDefaultAPIVersion = "2022-11-28"

var githubAPIVersionRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// WithGitHubAPIVersion selects the REST API version (YYYY-MM-DD) the user
// API calls send; default [GitHubDefaultAPIVersion]. Given to another
// provider's constructor it is an ErrInvalidConfig error.
func WithGitHubAPIVersion(version string) Option {
	return scoped("WithGitHubAPIVersion", "github", func(c *config) { c.githubAPIVersion = version })
}

// GitHubParams are GitHub's extra authorization parameters. Zero fields are
// not sent, which leaves GitHub's defaults in place.
type GitHubParams struct {
	// Login suggests an account to sign in with.
	Login string
	// DisallowSignup sends allow_signup=false, so users without an account
	// are not offered to create one during the flow. GitHub's default is to
	// offer it, so only the "false" case needs a field (upstream's bool sent
	// Python's "True"/"False").
	DisallowSignup bool
	// Prompt "select_account" forces the account picker.
	Prompt string
}

// AuthParams implements Params.
func (p GitHubParams) AuthParams() url.Values {
	v := url.Values{}
	if p.Login != "" {
		v.Set("login", p.Login)
	}
	if p.DisallowSignup {
		v.Set("allow_signup", "false")
	}
	if p.Prompt != "" {
		v.Set("prompt", p.Prompt)
	}
	return v
}

// GitHub is the GitHub provider client.
//
// Identify: Subject is the numeric user id of GET /user (it never changes,
// unlike the login). Email is the primary address of GET /user/emails and
// EmailVerified its "verified" flag (JSON true only); Email is "" when the
// token may not list the addresses (no user:email scope: 403/404). Name is
// /user "name", else the login; AvatarURL is "avatar_url".
//
// GitHub client: OAuth Apps and GitHub Apps (user access tokens).
//
// Follows https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps,
// https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens,
// https://docs.github.com/en/rest/users/users#get-the-authenticated-user and
// https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user.
//
// Default scopes: "read:user" and "user:email" (upstream asks for "user",
// which also grants write access to the profile; reading is all a login
// needs). Refresh: yes, at the token URL (GitHub Apps with expiring tokens).
// Revoke: no (GitHub's revocation API is not RFC 7009).
//
// id: the numeric user id of GET /user, as an exact decimal string. It never
// changes, unlike the login. email: the address of GET /user/emails that is
// both primary and verified; "" when there is none, when the list is empty,
// or when the token may not read the list (403/404, no user:email scope).
// The public email of /user is not used: the API does not say whether it is
// verified.
//
// User-API calls send "Authorization: Bearer" (GitHub accepts it for OAuth
// and GitHub App tokens; upstream's legacy "token" scheme is not needed),
// "Accept: application/vnd.github+json" and a pinned X-GitHub-Api-Version.
type GitHub struct {
	*OAuth2
}

var _ Provider = (*GitHub)(nil)

// NewGitHub returns a GitHub client (name "github", display name "GitHub").
// It does no I/O.
func NewGitHub(clientID, clientSecret string, opts ...Option) (*GitHub, error) {
	b, err := newClient("github", config{
		ClientID:                clientID,
		ClientSecret:            clientSecret,
		AuthorizeEndpoint:       githubAuthorizeURL,
		AccessTokenEndpoint:     githubTokenURL,
		RefreshTokenEndpoint:    githubTokenURL,
		Name:                    "github",
		DisplayName:             "GitHub",
		BaseScopes:              []string{"read:user", "user:email"},
		TokenEndpointAuthMethod: ClientSecretPost,
		githubAPIVersion:        GitHubDefaultAPIVersion,
	}, opts)
	if err != nil {
		return nil, err
	}
	if !githubAPIVersionRE.MatchString(b.cfg.githubAPIVersion) {
		return nil, fmt.Errorf("%w: GitHub API version %q is not of the form YYYY-MM-DD", ErrInvalidConfig, sanitize(b.cfg.githubAPIVersion, 64))
	}
	return &GitHub{b}, nil
}

func (c *GitHub) githubHeader(accessToken string) http.Header {
	h := bearer(accessToken)
	h.Set("Accept", "application/vnd.github+json")
	h.Set("X-GitHub-Api-Version", c.cfg.githubAPIVersion)
	return h
}

// Profile returns the JSON document of GET /user.
func (c *GitHub) Profile(ctx context.Context, accessToken string) (json.RawMessage, error) {
	return socialProfile(ctx, c.OAuth2, ErrGetProfile, apiRequest{url: githubUserURL, header: c.githubHeader(accessToken)})
}

// GitHubEmail is one entry of GET /user/emails. Primary and Verified are true
// only when GitHub sends the JSON value true.
type GitHubEmail struct {
	// Email is the address.
	Email string
	// Primary marks the user's primary address.
	Primary bool
	// Verified reports that GitHub verified the address.
	Verified bool
	// Visibility is "public", "private" or "" (null).
	Visibility string
}

// Emails lists the user's addresses (needs the user:email scope). Failures
// are ErrGetProfile errors.
func (c *GitHub) Emails(ctx context.Context, accessToken string) ([]GitHubEmail, error) {
	return c.emails(ctx, ErrGetProfile, accessToken)
}

func (c *GitHub) emails(ctx context.Context, op error, accessToken string) ([]GitHubEmail, error) {
	var raw []struct {
		Email      any `json:"email"`
		Primary    any `json:"primary"`
		Verified   any `json:"verified"`
		Visibility any `json:"visibility"`
	}
	if err := c.apiJSON(ctx, op, apiRequest{url: githubEmailsURL, header: c.githubHeader(accessToken)}, &raw); err != nil {
		return nil, err
	}
	out := make([]GitHubEmail, 0, len(raw))
	for _, e := range raw {
		s, _ := e.Email.(string)
		v, _ := e.Visibility.(string)
		out = append(out, GitHubEmail{Email: s, Primary: socialTrue(e.Primary), Verified: socialTrue(e.Verified), Visibility: v})
	}
	return out, nil
}

// IDEmail returns the user id of /user and the primary verified address of
// /user/emails ("" when there is none or the token may not list them).
func (c *GitHub) IDEmail(ctx context.Context, accessToken string) (string, string, error) {
	id, err := c.identity(ctx, accessToken)
	return idEmailOf(id, err, false)
}

// Identify reads /user and /user/emails with t's access token; see GitHub.
func (c *GitHub) Identify(ctx context.Context, t *Token, nonce string) (*Identity, error) {
	return identifyWith(ctx, t, c.identity)
}

func (c *GitHub) identity(ctx context.Context, accessToken string) (*Identity, error) {
	var u struct {
		ID        any `json:"id"`
		Login     any `json:"login"`
		Name      any `json:"name"`
		AvatarURL any `json:"avatar_url"`
	}
	if err := c.apiJSON(ctx, ErrGetIDEmail, apiRequest{url: githubUserURL, header: c.githubHeader(accessToken)}, &u); err != nil {
		return nil, err
	}
	sub, ok := idString(u.ID)
	if !ok {
		return nil, identityError(ErrGetIDEmail, "github /user has no usable id")
	}
	id := &Identity{Subject: sub, Name: firstNonEmpty(str(u.Name), str(u.Login)), AvatarURL: pictureURL(u.AvatarURL)}
	emails, err := c.emails(ctx, ErrGetIDEmail, accessToken)
	if err != nil {
		if s := StatusCode(err); s == http.StatusForbidden || s == http.StatusNotFound {
			// No user:email scope (OAuth app: 404) or permission (GitHub
			// App: 403): the provider gives no email, which is not a failure.
			return id, nil
		}
		return nil, err
	}
	for _, e := range emails {
		if e.Primary && strings.TrimSpace(e.Email) != "" {
			id.Email, id.EmailVerified = e.Email, e.Verified
			break
		}
	}
	return id, nil
}

// OrgMembership reports whether the user of accessToken is an active member
// of the GitHub organization org, from GET /user/memberships/orgs/{org}
// (https://docs.github.com/en/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user).
// It needs the read:org scope: add it to the client's or the kit
// provider's scopes. Only state "active" for the organization asked about
// is membership; a pending invitation is not. A 404 or 403 (not a member,
// an organization that does not exist or has not approved the OAuth App,
// or a token without read:org) is "not a member" with no error, because
// GitHub does not tell them apart. Any other failure (5xx, transport, a
// body that is not the membership document) is an ErrGetProfile error,
// never a false: a caller deciding a login must fail closed on it. A
// malformed org is an ErrInvalidConfig error, before any I/O.
func (c *GitHub) OrgMembership(ctx context.Context, accessToken, org string) (bool, error) {
	if !ValidGitHubLogin(org) {
		return false, fmt.Errorf("%w: %q is not a GitHub organization login", ErrInvalidConfig, sanitize(org, 64))
	}
	if accessToken == "" {
		return false, &RequestError{Op: ErrGetProfile, Err: ErrMissingAccessToken}
	}
	var m struct {
		State        any `json:"state"`
		Organization struct {
			Login any `json:"login"`
		} `json:"organization"`
	}
	err := c.apiJSON(ctx, ErrGetProfile, apiRequest{url: githubMembershipURL + org, header: c.githubHeader(accessToken)}, &m)
	if s := StatusCode(err); s == http.StatusNotFound || s == http.StatusForbidden {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	login, _ := m.Organization.Login.(string)
	if !strings.EqualFold(login, org) {
		// GitHub answers for the organization asked about; an answer about
		// another (or none) is not evidence of membership.
		return false, &RequestError{Op: ErrGetProfile, Err: fmt.Errorf("%w: membership is not for the organization asked about", ErrInvalidResponse)}
	}
	state, _ := m.State.(string)
	return state == "active", nil
}

// socialTrue is the only test of a provider's "verified" flags: the string
// "true", 1 or a missing value do not count.
func socialTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}
