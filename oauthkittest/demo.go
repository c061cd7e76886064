package oauthkittest

// DemoPassword is the password of every DemoUsers user. It is public: the
// demo users are for trying an application on one's own machine, never
// for a provider other people can reach.
const DemoPassword = "verysecure"

// DemoUsers are ready-made users for local development, each with
// DemoPassword, so that a development provider (the oauthkit-dev command,
// the example app's embedded provider) offers the same people to sign in
// as: two ordinary users, an administrator with groups, and a user whose
// email is not verified (to try an application's policy for those).
// Each call returns new values the caller may change.
func DemoUsers() []User {
	return []User{
		{Subject: "test-user", Email: "test-user@example.com", EmailVerified: true, Name: "Test User", Groups: []string{"users"}, Password: DemoPassword},
		{Subject: "test-user2", Email: "test-user2@example.com", EmailVerified: true, Name: "Second Test User", Groups: []string{"users"}, Password: DemoPassword},
		{Subject: "admin", Email: "admin@example.com", EmailVerified: true, Name: "Admin User", Groups: []string{"admins", "users"}, Password: DemoPassword},
		{Subject: "unverified", Email: "unverified@example.com", EmailVerified: false, Name: "Unverified User", Password: DemoPassword},
	}
}
