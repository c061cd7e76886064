package oauthkit

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The session's pending logins are one string in a compact form: "P2",
// then per login its eight fields, each as <decimal length>:<bytes> (state,
// provider, verifier, nonce, return-to, created as Unix nanoseconds, the
// max_age and the acr_values the login requested). Lists in the "P1" form
// of the previous version (the first six fields) are still read. Every
// login start and callback reads and rewrites the list, and
// encoding/json was a dozen allocations of each; this reads with one (the
// fields are slices of the stored string) and writes with two. Lists
// written as JSON by earlier versions (they start with "[") are still read,
// so logins in flight survive a deploy.

const (
	pendingMagic   = "P2"
	pendingMagicV1 = "P1"
)

// pendingFields is the number of fields of one encoded login; a "P1" login
// has pendingFieldsV1, without max_age and acr_values.
const (
	pendingFields   = 8
	pendingFieldsV1 = 6
)

// encodePending is list in the compact form.
func encodePending(list []pendingLogin) string {
	n := len(pendingMagic)
	for _, p := range list {
		n += len(p.State) + len(p.Provider) + len(p.Verifier) + len(p.Nonce) + len(p.ReturnTo) + len(p.MaxAge) + len(p.ACR) + pendingFields*4 + 20
	}
	b := make([]byte, 0, n)
	b = append(b, pendingMagic...)
	var num [20]byte
	for _, p := range list {
		for _, f := range [...]string{p.State, p.Provider, p.Verifier, p.Nonce, p.ReturnTo} {
			b = appendPendingField(b, f)
		}
		b = appendPendingField(b, string(strconv.AppendInt(num[:0], p.Created.UnixNano(), 10)))
		b = appendPendingField(b, p.MaxAge)
		b = appendPendingField(b, p.ACR)
	}
	return string(b)
}

func appendPendingField(b []byte, f string) []byte {
	b = strconv.AppendInt(b, int64(len(f)), 10)
	b = append(b, ':')
	return append(b, f...)
}

// decodePending reads what encodePending wrote, or a JSON list of an
// earlier version. Anything unreadable is no pending login at all, as a
// missing value is: the callback then answers "no pending login".
func decodePending(s string) []pendingLogin {
	if strings.HasPrefix(s, "[") {
		var list []pendingLogin
		if json.Unmarshal([]byte(s), &list) != nil {
			return nil
		}
		return list
	}
	fields := pendingFields
	rest, ok := strings.CutPrefix(s, pendingMagic)
	if !ok {
		if rest, ok = strings.CutPrefix(s, pendingMagicV1); !ok {
			return nil
		}
		fields = pendingFieldsV1
	}
	var list []pendingLogin
	for rest != "" {
		var f [pendingFields]string
		for i := range fields {
			if f[i], rest, ok = cutPendingField(rest); !ok {
				return nil
			}
		}
		nanos, err := strconv.ParseInt(f[5], 10, 64)
		if err != nil || !canonicalInt(f[5]) {
			return nil
		}
		if f[6] != "" && !validMaxAge(f[6]) {
			return nil
		}
		if list == nil {
			list = make([]pendingLogin, 0, 2)
		}
		list = append(list, pendingLogin{
			State: f[0], Provider: f[1], Verifier: f[2], Nonce: f[3], ReturnTo: f[4],
			Created: time.Unix(0, nanos), MaxAge: f[6], ACR: f[7],
		})
	}
	return list
}

// cutPendingField splits one <length>:<bytes> field off s.
func cutPendingField(s string) (field, rest string, ok bool) {
	ls, after, found := strings.Cut(s, ":")
	if !found || ls == "" || len(ls) > 7 {
		return "", "", false
	}
	n, err := strconv.Atoi(ls)
	if err != nil || n < 0 || n > len(after) || !canonicalInt(ls) {
		return "", "", false
	}
	return after[:n], after[n:], true
}

// canonicalInt reports whether s is an integer as strconv formats it (no
// "+", no leading zeros, no "-0"), so a list has one spelling and a
// decoded list re-encodes to what was read.
func canonicalInt(s string) bool {
	d := strings.TrimPrefix(s, "-")
	return d != "" && d[0] != '+' && (d[0] != '0' || d == "0" && d == s)
}
