package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserLogin clicks through the site in headless Chromium: home page,
// provider button, the embedded provider's login page (its password form),
// the profile with the demo user's email, the provider API page, logout
// (the kit's page, whose hashed script POSTs the logout to the provider,
// which sends the browser back to /logged-out and home), the profile
// asking to sign in again, and a sign-in with one click on a user of the
// provider's page. It saves screenshots of the home and profile pages in
// t.TempDir(), or in the directory EXAMPLE_APP_SCREENSHOTS names (the
// committed ones: EXAMPLE_APP_SCREENSHOTS=docs).
func TestBrowserLogin(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): skipping the real-browser test")
	}
	_, base := startApp(t, Config{}, "localhost")
	shots := os.Getenv("EXAMPLE_APP_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // mandatory as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name), png, 0o644))
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("signin-dev")),
	))
	screenshot("home.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signin-dev")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "test-user2"),
		chromedp.SendKeys(chromedp.ID("password"), devPassword),
		chromedp.Click(chromedp.ID("password-submit")),
		chromedp.WaitVisible(chromedp.ID("email")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, base+"/profile", loc)
	email, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("email")))
	require.NoError(t, err)
	assert.Equal(t, "test-user2@example.com", email)
	screenshot("profile.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("api-link")),
		chromedp.WaitVisible(chromedp.ID("api-response")),
	))
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("api-response")))
	require.NoError(t, err)
	assert.Contains(t, body, `"sub": "test-user2"`)
	assert.Contains(t, body, `"email": "test-user2@example.com"`)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("signin-dev")),
		chromedp.Navigate(base+"/profile"),
		chromedp.WaitVisible(chromedp.ID("notice")),
	))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, base+"/login?next=%2Fprofile", loc, "signed out: the profile asks to sign in again")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signin-dev")),
		chromedp.WaitVisible(chromedp.CSS(`button[data-user="admin"]`)),
		chromedp.Click(chromedp.CSS(`button[data-user="admin"]`)),
		chromedp.WaitVisible(chromedp.ID("email")),
	))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, base+"/profile", loc, "back to the page that asked")
	email, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("email")))
	require.NoError(t, err)
	assert.Equal(t, "admin@example.com", email, "one click signs in as that user")
}
