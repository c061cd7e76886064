package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/oauthkit/oauthkit"
	"github.com/oauthkit/oauthkit/otelkit"
)

// otelStdout is the OAUTHKIT_OTEL value that exports to standard output.
const otelStdout = "stdout"

// metricInterval is how often the counters are printed (and once more at
// shutdown).
const metricInterval = time.Minute

// newTelemetry returns the kit's Observer for OAUTHKIT_OTEL and the func
// that flushes and stops its exporters; none for an empty mode. "stdout"
// prints every span as JSON to out as it ends (a demo's choice: a site
// batches, and exports over OTLP) and the login counters every minute and
// at shutdown. The providers are the app's own, not otel's globals, so
// nothing else in the process reports through them by surprise.
func newTelemetry(mode string, out io.Writer) (oauthkit.Observer, func(), error) {
	if mode == "" {
		return nil, nil, nil
	}
	if mode != otelStdout {
		return nil, nil, fmt.Errorf("OAUTHKIT_OTEL %q: the only exporter is %q", mode, otelStdout)
	}
	spans, err := stdouttrace.New(stdouttrace.WithWriter(out), stdouttrace.WithPrettyPrint())
	if err != nil {
		return nil, nil, fmt.Errorf("OAUTHKIT_OTEL: %w", err)
	}
	metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(out), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return nil, nil, fmt.Errorf("OAUTHKIT_OTEL: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(metricInterval))))
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx)) // best effort at exit
	}
	return otelkit.New(otelkit.WithTracerProvider(tp), otelkit.WithMeterProvider(mp)), stop, nil
}
