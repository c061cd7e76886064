package oauthkit

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/oauthkit/oauthkit/client"
)

// LoginPolicy decides whether a login may complete. Policies run in the
// callback once the provider identity is established, before OnLogin and
// before anything is stored: Config.LoginPolicies first, then the
// provider's Provider.LoginPolicies, in order; the first error stops the
// login.
//
// An error refuses the login with ErrPolicyDenied (403), the policy's error
// wrapped inside for logs and errors.Is, never shown on the default error
// page. A policy that could not decide because a provider failed returns an
// error matching ErrIdentity (502, 504 on timeout) instead, and one that is
// misconfigured an error matching ErrInvalidConfig (500); both also end the
// login with nobody signed in.
//
// LoginPolicyFunc turns a function into a LoginPolicy. The built-in
// policies (AllowEmailDomains, GoogleHostedDomain, GitHubOrganization,
// EntraTenant) check their arguments when New runs, so a typo in a domain
// or tenant is an ErrInvalidConfig error at start-up, not a login refused
// for everyone.
type LoginPolicy interface {
	CheckLogin(ctx context.Context, a *LoginAttempt) error
}

// LoginPolicyFunc adapts a function to LoginPolicy, as http.HandlerFunc
// does for handlers.
type LoginPolicyFunc func(ctx context.Context, a *LoginAttempt) error

// CheckLogin calls f(ctx, a).
func (f LoginPolicyFunc) CheckLogin(ctx context.Context, a *LoginAttempt) error { return f(ctx, a) }

// LoginAttempt is what a LoginPolicy decides on. Policies only read it:
// shaping the user (User.UserID and the like) is OnLogin's job, which runs
// after every policy passed.
type LoginAttempt struct {
	// User is the user about to be signed in, as OnLogin will receive it
	// (UserID is not set yet). It is a copy for this policy: changes are
	// not kept.
	User *User
	// Provider is the provider's name, the one the handlers take.
	Provider string
	// Client is the provider's client, for policies that ask the provider
	// more (GitHubOrganization).
	Client client.Provider
	// Token is the code exchange's token, for such calls. It is a copy.
	Token *client.Token
	// Claims are the claims of the ID token the client verified (see
	// client.Identity.Claims), nil when it verified none: a provider
	// without OpenID Connect, or a login without the openid scope. Only
	// these claims are evidence; read them, do not change them.
	Claims map[string]any
}

// policyValidator is implemented by the built-in policies, whose arguments
// New checks.
type policyValidator interface {
	validate() error
}

// builtin is what every built-in policy holds besides its values: the
// error its constructor found in its arguments, which New reports and
// CheckLogin returns for a policy New never saw (one called from inside
// an application's own policy).
type builtin struct{ err error }

func (b *builtin) validate() error { return b.err }

func (b *builtin) misconfigured() error {
	if b.err != nil {
		return wrap(ErrInvalidConfig, b.err)
	}
	return nil
}

// checkPolicies is New's check of one list of policies.
func checkPolicies(where string, ps []LoginPolicy) error {
	for i, pol := range ps {
		if f, ok := pol.(LoginPolicyFunc); pol == nil || ok && f == nil {
			return configError("%s: login policy %d is nil", where, i)
		}
		if v, ok := pol.(policyValidator); ok {
			if err := v.validate(); err != nil {
				return configError("%s: login policy %d: %v", where, i, err)
			}
		}
	}
	return nil
}

// checkLogin runs the kit's and then p's policies on the user about to be
// signed in; see LoginPolicy.
func (k *Kit) checkLogin(ctx context.Context, p *providerState, u *User, tok *client.Token, claims map[string]any) error {
	if len(k.cfg.LoginPolicies) == 0 && len(p.LoginPolicies) == 0 {
		return nil
	}
	for _, list := range [2][]LoginPolicy{k.cfg.LoginPolicies, p.LoginPolicies} {
		for _, pol := range list {
			// Copies for each policy: none can change what is signed in,
			// nor what the next policy sees.
			uc, tc := *u, *tok
			err := pol.CheckLogin(ctx, &LoginAttempt{User: &uc, Provider: p.name, Client: p.Client, Token: &tc, Claims: claims})
			switch {
			case err == nil:
			case errors.Is(err, ErrIdentity), errors.Is(err, ErrInvalidConfig):
				return err
			default:
				return wrap(ErrPolicyDenied, err)
			}
		}
	}
	return nil
}

// denial is a built-in policy's refusal. Its text names what failed, never
// the user's email or claims.
func denial(format string, args ...any) error {
	return fmt.Errorf("oauthkit: "+format, args...)
}

// hostnameRE is a DNS name of at least two ASCII labels, lower case (the
// caller folds it first), without a trailing dot.
var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// domainSet checks and folds the domains a policy was given. Domains are
// compared as ASCII, so internationalised ones must be given in their
// A-label (xn--) form.
func domainSet(policy string, domains []string) (map[string]bool, error) {
	if len(domains) == 0 {
		return nil, fmt.Errorf("%s needs at least one domain", policy)
	}
	set := make(map[string]bool, len(domains))
	for _, d := range domains {
		if !isASCII(d) {
			return nil, fmt.Errorf("%s: domain %q is not ASCII; give its A-label (xn--) form", policy, d)
		}
		ld := strings.ToLower(d)
		if len(ld) > 253 || !hostnameRE.MatchString(ld) {
			return nil, fmt.Errorf("%s: %q is not a domain name (no scheme, \"@\", wildcard or trailing dot)", policy, d)
		}
		set[ld] = true
	}
	return set, nil
}

// isASCII reports whether s has only ASCII bytes. It comes before any case
// folding: strings.ToLower maps the Kelvin sign to "k", and EqualFold the
// long s to "s", so a Unicode fold could let "\u212Aelvin.example" pass
// for "kelvin.example".
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// AllowEmailDomains lets in only users whose email the provider verified
// (User.EmailVerified) and whose domain is exactly one of domains (case
// does not matter; a subdomain is another domain, list it if it is
// allowed). The address must be a bare addr-spec, parsed by net/mail and
// unchanged by it: exactly one "@", no display name, comment, angle
// brackets or quoted local part, an ASCII domain without trailing dot.
// Anything else is refused rather than interpreted.
//
// A verified email proves control of a mailbox, not membership of the
// organisation that owns the domain: providers where anyone can attach an
// address (GitHub, Microsoft personal accounts) verify it by a mail sent
// there. Prefer GoogleHostedDomain or EntraTenant where they apply.
func AllowEmailDomains(domains ...string) LoginPolicy {
	set, err := domainSet("AllowEmailDomains", domains)
	return &emailDomains{set: set, builtin: builtin{err}}
}

type emailDomains struct {
	set map[string]bool
	builtin
}

// CheckLogin implements LoginPolicy.
func (p *emailDomains) CheckLogin(_ context.Context, a *LoginAttempt) error {
	if err := p.misconfigured(); err != nil {
		return err
	}
	if a.User == nil || !a.User.EmailVerified || a.User.Email == "" {
		return denial("the provider gave no verified email")
	}
	d, ok := emailDomain(a.User.Email)
	if !ok {
		return denial("the verified email is not a plain address")
	}
	if !p.set[d] {
		return denial("the verified email's domain is not allowed")
	}
	return nil
}

// emailDomain returns the lower-cased domain of a bare addr-spec, and false
// for anything net/mail reads differently from the raw text (display
// names, comments, angle brackets, quoting), any other count of "@", a
// quoted or empty local part, or a domain that is not ASCII.
func emailDomain(s string) (string, bool) {
	if strings.Count(s, "@") != 1 {
		return "", false
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", false
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || strings.ContainsAny(local, "\"\\") || !isASCII(domain) {
		return "", false
	}
	return strings.ToLower(domain), true
}

// googleIssuers are the issuers of Google ID tokens.
var googleIssuers = map[string]bool{"https://accounts.google.com": true, "accounts.google.com": true}

// GoogleHostedDomain lets in only Google Workspace users of one of domains:
// the "hd" claim of the ID token the client verified, issued by Google.
// The email's domain never counts (a consumer account can carry an address
// of any domain), nor does an "hd" from anywhere but a verified Google ID
// token: a login without one (no openid scope, another provider) is
// refused. Put it on the Google provider's LoginPolicies, and ask for the
// openid scope, for which Google sends the ID token (Provider.Scopes
// "openid", "email", "profile"): the Google client's default scopes do not
// name it.
func GoogleHostedDomain(domains ...string) LoginPolicy {
	set, err := domainSet("GoogleHostedDomain", domains)
	return &hostedDomain{set: set, builtin: builtin{err}}
}

type hostedDomain struct {
	set map[string]bool
	builtin
}

// CheckLogin implements LoginPolicy.
func (p *hostedDomain) CheckLogin(_ context.Context, a *LoginAttempt) error {
	if err := p.misconfigured(); err != nil {
		return err
	}
	if a.Claims == nil {
		return denial("no verified ID token, so no hosted domain")
	}
	if iss, _ := a.Claims["iss"].(string); !googleIssuers[iss] {
		return denial("the ID token is not Google's")
	}
	hd, _ := a.Claims["hd"].(string)
	if hd == "" {
		return denial("the Google account belongs to no hosted domain")
	}
	if !isASCII(hd) || !p.set[strings.ToLower(hd)] {
		return denial("the Google hosted domain is not allowed")
	}
	return nil
}

// guidRE is a tenant id.
var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// EntraTenant lets in only Microsoft Entra ID users of one of tenantIDs
// (directory GUIDs, any case): the "tid" claim of the ID token the client
// verified, which must come from that tenant's v2.0 issuer,
// https://login.microsoftonline.com/{tid}/v2.0 (the Microsoft client
// checks the same). With a "common" or "organizations" client it is what
// keeps other organisations out. Personal Microsoft accounts have the
// tenant 9188040d-6c67-4c5b-b112-36a304b66dad. Put it on the Microsoft
// provider's LoginPolicies: a login without such a token is refused.
func EntraTenant(tenantIDs ...string) LoginPolicy {
	p := &entraTenant{set: map[string]bool{}}
	if len(tenantIDs) == 0 {
		p.err = errors.New("EntraTenant needs at least one tenant id")
	}
	for _, id := range tenantIDs {
		lid := strings.ToLower(id)
		if !guidRE.MatchString(lid) {
			p.err = fmt.Errorf("EntraTenant: %q is not a tenant id (a GUID; not a domain, \"common\" or \"organizations\")", id)
			break
		}
		p.set[lid] = true
	}
	return p
}

type entraTenant struct {
	set map[string]bool
	builtin
}

// CheckLogin implements LoginPolicy.
func (p *entraTenant) CheckLogin(_ context.Context, a *LoginAttempt) error {
	if err := p.misconfigured(); err != nil {
		return err
	}
	if a.Claims == nil {
		return denial("no verified ID token, so no tenant")
	}
	tid, _ := a.Claims["tid"].(string)
	tid = strings.ToLower(tid)
	if !guidRE.MatchString(tid) {
		return denial("the ID token has no tenant id")
	}
	if iss, _ := a.Claims["iss"].(string); iss != "https://login.microsoftonline.com/"+tid+"/v2.0" {
		return denial("the ID token is not from its tenant's Microsoft issuer")
	}
	if !p.set[tid] {
		return denial("the Entra tenant is not allowed")
	}
	return nil
}

// orgMember is what GitHubOrganization needs of the client:
// client.GitHub's OrgMembership.
type orgMember interface {
	OrgMembership(ctx context.Context, accessToken, org string) (bool, error)
}

// GitHubOrganization lets in only active members of at least one of orgs
// (organization logins), asked of GitHub with the login's own token (see
// client.GitHub.OrgMembership); compose several policies to require
// several organizations. The token needs the read:org scope, which the
// GitHub client does not ask for by default: set Provider.Scopes to
// "read:user", "user:email", "read:org". An organization that restricts
// OAuth App access must approve the app, or its members read as
// non-members.
//
// Not being a member (or a pending invitation, or a token without
// read:org) refuses the login with ErrPolicyDenied; a GitHub failure
// (5xx, transport, a malformed answer) fails it with ErrIdentity (502),
// never letting it through. A provider whose client has no OrgMembership
// is refused: put the policy on the GitHub provider's LoginPolicies.
func GitHubOrganization(orgs ...string) LoginPolicy {
	p := &githubOrgs{orgs: orgs}
	if len(orgs) == 0 {
		p.err = errors.New("GitHubOrganization needs at least one organization")
	}
	for _, o := range orgs {
		if !client.ValidGitHubLogin(o) {
			p.err = fmt.Errorf("GitHubOrganization: %q is not a GitHub organization login", o)
			break
		}
	}
	return p
}

type githubOrgs struct {
	orgs []string
	builtin
}

// CheckLogin implements LoginPolicy.
func (p *githubOrgs) CheckLogin(ctx context.Context, a *LoginAttempt) error {
	if err := p.misconfigured(); err != nil {
		return err
	}
	m, ok := a.Client.(orgMember)
	if !ok {
		return denial("provider %s cannot check GitHub organization membership", a.Provider)
	}
	if a.Token == nil || a.Token.AccessToken == "" {
		return denial("no access token to check GitHub organization membership")
	}
	for _, org := range p.orgs {
		member, err := m.OrgMembership(ctx, a.Token.AccessToken, org)
		if err != nil {
			return wrap(ErrIdentity, err)
		}
		if member {
			return nil
		}
	}
	return denial("not an active member of an allowed GitHub organization")
}
