// Package bench compares oauthkit with its peers (gologin, goth/gothic and
// hand-written golang.org/x/oauth2 code) on identical work against one
// loopback fake provider. Everything lives in the _test.go files; run
//
//	go test -run '^$' -bench . -benchmem
//
// and see README.md for how to read the results.
package bench
