package otelkit_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/alexedwards/scs/v2"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/internal/fakeas"
	"github.com/oauthkit/oauthkit/otelkit"
)

// An Observer in Config.Observer turns a login into spans and counts it.
// A site passes its own providers (or none: the otel globals, set by its
// OpenTelemetry setup); here an in-memory span recorder and a manual
// metric reader show what a login through a fake provider reports.
func ExampleNew() {
	spans := tracetest.NewSpanRecorder()
	metrics := sdkmetric.NewManualReader()
	observer := otelkit.New(
		otelkit.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		otelkit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics))),
	)

	as := fakeas.Start()
	defer as.Srv.Close()
	fake, err := as.Client("fake", nil)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sm := scs.New()
	kit, err := oauthkit.New(oauthkit.Config{
		Sessions:  sm,
		Providers: []oauthkit.Provider{{Client: fake, RedirectURL: "http://" + srv.Listener.Addr().String() + "/auth/fake/callback"}},
		Logger:    slog.New(slog.DiscardHandler),
		Observer:  observer,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/fake/login", kit.LoginHandler("fake"))
	mux.Handle("/auth/fake/callback", kit.CallbackHandler("fake"))
	mux.Handle("/", kit.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := kit.User(r.Context())
		_, _ = io.WriteString(w, "hello "+u.Email)
	})))
	srv.Config.Handler = sm.LoadAndSave(mux)
	srv.Start()
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(srv.URL + "/auth/fake/login")
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(page))

	names := map[trace.SpanID]string{}
	for _, s := range spans.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	for _, s := range spans.Ended() { // in the order they ended
		if parent, ok := names[s.Parent().SpanID()]; ok {
			fmt.Println(s.Name(), "inside", parent)
		} else {
			fmt.Println(s.Name())
		}
	}
	var rm metricdata.ResourceMetrics
	if err := metrics.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			provider, _ := dp.Attributes.Value(otelkit.ProviderKey)
			fmt.Printf("%s{provider=%s} %d\n", m.Name, provider.AsString(), dp.Value)
		}
	}
	// Output:
	// 200 hello ada@example.com
	// oauthkit.login
	// oauthkit.token_exchange inside oauthkit.callback
	// oauthkit.user_api inside oauthkit.callback
	// oauthkit.callback
	// oauthkit.logins{provider=fake} 1
}
