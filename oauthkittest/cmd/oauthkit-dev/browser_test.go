package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotPath is the committed picture of the login page the README
// shows; OAUTHKIT_UPDATE_SCREENSHOTS=1 makes TestBrowserSignIn rewrite it.
var screenshotPath = filepath.Join("..", "..", "docs", "dev-login.png")

// TestBrowserSignIn signs in to the README's site in headless Chromium
// against the running command: /settings sends the browser to the styled
// login page, which lists the demo users; one click on a user reaches the
// signed-in page as that user; in a new browser the password form does the
// same. It skips only without chromium.
func TestBrowserSignIn(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): skipping the real-browser test")
	}
	d := startDev(t)
	base := startSite(t, d)

	// Each browser is a fresh profile: its own cookies.
	newChromium := func() context.Context {
		t.Helper()
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium),
			chromedp.NoSandbox, // mandatory as root
			chromedp.DisableGPU,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.WindowSize(900, 1000),
		)
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		t.Cleanup(cancelA)
		ctx, cancel := chromedp.NewContext(actx)
		t.Cleanup(cancel)
		ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
		t.Cleanup(cancelT)
		return ctx
	}
	// signedIn is the page the browser ends at: its URL and text (the
	// site's answer is text/plain, which Chromium shows in a pre).
	signedIn := func(ctx context.Context) (string, string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("pre"))); err != nil {
			t.Fatal(err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("pre")))
		if err != nil {
			t.Fatal(err)
		}
		return loc, text
	}

	ctx := newChromium()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/settings"),
		chromedp.WaitVisible(chromedp.ID("users")),
		chromedp.WaitVisible(chromedp.ID("password-form")),
	); err != nil {
		t.Fatal(err)
	}
	client, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("client")))
	if err != nil || client != defaultClientID {
		t.Errorf("the page names client %q (%v), want %s", client, err, defaultClientID)
	}
	if os.Getenv("OAUTHKIT_UPDATE_SCREENSHOTS") == "1" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(screenshotPath, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-user="admin"]`))); err != nil {
		t.Fatal(err)
	}
	if loc, text := signedIn(ctx); loc != base+"/settings" || text != "Hello admin@example.com" {
		t.Errorf("one click as admin: %s %q", loc, text)
	}

	ctx = newChromium()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/settings"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "test-user2"),
		chromedp.SendKeys(chromedp.ID("password"), "verysecure"),
		chromedp.Click(chromedp.ID("password-submit")),
	); err != nil {
		t.Fatal(err)
	}
	if loc, text := signedIn(ctx); loc != base+"/settings" || text != "Hello test-user2@example.com" {
		t.Errorf("password form as test-user2: %s %q", loc, text)
	}
}
