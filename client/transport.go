package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxResponseBytes caps every response body this package reads. A larger
// body fails with ErrResponseTooLarge instead of being buffered.
const MaxResponseBytes = 1 << 20

type response struct {
	status      int
	contentType string
	header      http.Header
	body        []byte
}

// doRequest sends req and returns the capped body of a 2xx answer. Any other
// status becomes an *OAuthError (when the body is an RFC 6749 error) or an
// *HTTPError; transport failures are wrapped with their cause, with any URL
// query (which could hold a token) removed from the message.
func doRequest(hc *http.Client, userAgent string, req *http.Request, op error) (*response, error) {
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &RequestError{Op: op, Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	noteDPoPResponse(req, resp)
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, &RequestError{Op: op, Err: redactURLError(err)}
	}
	if len(body) > MaxResponseBytes {
		return nil, &RequestError{Op: op, Err: ErrResponseTooLarge}
	}
	res := &response{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		header:      resp.Header,
		body:        body,
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, &RequestError{Op: op, Err: fmt.Errorf("%w: %w", ErrRedirect, httpError(req, res))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if m, err := decodeBody(res.contentType, body); err == nil {
			if oe := oauthErrorFrom(res.status, m); oe != nil {
				return nil, &RequestError{Op: op, Err: redactSecrets(req, oe)}
			}
		}
		return nil, &RequestError{Op: op, Err: httpError(req, res)}
	}
	return res, nil
}

// httpError describes a response that is no RFC 6749 error document. req's
// credentials are removed from the whole body before it is cut to the
// excerpt, so one straddling the cut cannot leave its first bytes behind.
func httpError(req *http.Request, res *response) *HTTPError {
	he := &HTTPError{
		StatusCode:  res.status,
		ContentType: res.contentType,
		Body:        sanitize(scrubText(string(res.body), requestSecrets(req)), maxExcerpt),
	}
	if he.Temporary() {
		he.RetryAfter = retryAfter(res.header.Get("Retry-After"), time.Now())
	}
	return he
}

// retryAfter parses Retry-After as delay-seconds or an HTTP date (RFC 9110
// §10.2.3); anything else, or a date in the past, is zero.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redactURLError strips the query of the URL inside a *url.Error: Go puts the
// whole URL in the message, and a provider API URL may carry a token.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
		u.RawQuery = "redacted"
		return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
	}
	return err
}

// apiRequest describes one call to a provider's user API.
type apiRequest struct {
	method string
	url    string
	header http.Header
	form   url.Values // sent as a form body when non-nil
	// dpop, when not nil, sends accessToken as "Authorization: DPoP" with
	// a proof signed by it (see dpopAPI) instead of the Authorization of
	// header.
	dpop        *DPoPKey
	accessToken string
}

// bearer is the header most user APIs take.
func bearer(accessToken string) http.Header {
	return http.Header{"Authorization": {"Bearer " + accessToken}}
}

// getJSON performs a user-API call and decodes the JSON object answer (with
// json.Number for numbers, so large ids stay exact) into out.
func getJSON(ctx context.Context, cfg *config, op error, r apiRequest, out any) error {
	var res *response
	if r.dpop != nil {
		var err error
		if res, err = sendDPoPAPI(ctx, cfg, op, r); err != nil {
			return err
		}
	} else {
		req, err := newAPIRequest(ctx, r)
		if err != nil {
			return &RequestError{Op: op, Err: redactURLError(err)}
		}
		if res, err = doRequest(cfg.HTTPClient, cfg.UserAgent, req, op); err != nil {
			return err
		}
	}
	if err := decodeExact(res.body, out); err != nil {
		return &RequestError{Op: op, Err: fmt.Errorf("%w: %v", ErrInvalidResponse, err)}
	}
	return nil
}

// newAPIRequest builds the request r describes.
func newAPIRequest(ctx context.Context, r apiRequest) (*http.Request, error) {
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, r.url, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, nil
}

// identityError wraps a missing or malformed field of a user-API answer.
func identityError(op error, format string, args ...any) error {
	return &RequestError{Op: op, Err: fmt.Errorf("%w: "+format, append([]any{ErrMissingID}, args...)...)}
}

// idString turns a JSON id (string or json.Number) into a non-empty string;
// anything else (missing, null, "", 0, objects) is rejected, so two users can
// never share an empty or default id.
func idString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, strings.TrimSpace(x) != ""
	case json.Number:
		s := x.String()
		return s, s != "0" && s != ""
	default:
		return "", false
	}
}

// apiJSON is getJSON with this client's HTTP client and User-Agent; provider
// clients use it for their user APIs.
func (c *OAuth2) apiJSON(ctx context.Context, op error, r apiRequest, out any) error {
	return getJSON(ctx, &c.cfg, op, r, out)
}

// asIDEmailError re-labels a profile failure as an id/email failure, keeping
// its cause, as every upstream provider does.
func asIDEmailError(err error) error {
	var re *RequestError
	if errors.As(err, &re) && re.Op == ErrGetProfile {
		return &RequestError{Op: ErrGetIDEmail, Err: re.Err}
	}
	return err
}

// fetchUserObject performs a user-API call whose answer must be a JSON
// object, and returns it both raw (for Profile) and decoded with json.Number
// (for IDEmail). A 2xx answer that is not an object is ErrInvalidResponse.
func fetchUserObject(ctx context.Context, c *OAuth2, op error, r apiRequest) (json.RawMessage, map[string]any, error) {
	var raw json.RawMessage
	if err := c.apiJSON(ctx, op, r, &raw); err != nil {
		return nil, nil, err
	}
	m, err := decodeBody("application/json", raw)
	if err != nil {
		return nil, nil, &RequestError{Op: op, Err: fmt.Errorf("%w: user API answer is not a JSON object", ErrInvalidResponse)}
	}
	return raw, m, nil
}

// socialProfile is fetchUserObject for Profile methods, which return the
// document unchanged.
func socialProfile(ctx context.Context, c *OAuth2, op error, r apiRequest) (json.RawMessage, error) {
	raw, _, err := fetchUserObject(ctx, c, op, r)
	return raw, err
}

// socialCheckObject rejects JSON values other than an object (null, arrays,
// scalars), which no user API answers on success.
func socialCheckObject(op error, raw json.RawMessage) error {
	if _, err := decodeBody("application/json", raw); err != nil {
		return &RequestError{Op: op, Err: fmt.Errorf("%w: not a JSON object", ErrInvalidResponse)}
	}
	return nil
}

// nonBlank returns v if it is a string with something besides white space,
// and "" otherwise: a provider's "email": "  " or "email": 42 is no email.
func nonBlank(v any) string {
	s, _ := v.(string)
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}
