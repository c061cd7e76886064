// Package otelkit reports the operations of an oauthkit.Kit to
// OpenTelemetry: one span per login, callback, code exchange, user API
// call, refresh and revocation, and counters of completed and failed
// logins. It is a module of its own, so the kit's go.mod stays free of
// OpenTelemetry; plug it in through oauthkit.Config.Observer:
//
//	cfg.Observer = otelkit.New() // the global tracer and meter providers
//
// # Spans
//
// Span names are "oauthkit." followed by the oauthkit.Op ("oauthkit.login",
// "oauthkit.callback", "oauthkit.token_exchange", "oauthkit.user_api",
// "oauthkit.refresh", "oauthkit.revocation"). The code exchange and user
// API spans are children of the callback span, and the op's context is the
// one the provider client's HTTP requests run with, so the spans of an
// instrumented http.Client (otelhttp's transport, for one) nest inside
// them.
//
// A span has only these attributes: oauthkit.provider (the provider's
// name), oauthkit.operation (the Op) and, on failure, error.type (the
// oauthkit.ErrorReason of the failure). A failed op's status is Error with
// that same reason as its description. The error's text is never
// recorded: it can hold provider-supplied text. No attribute, event or
// status ever holds an authorization code, a state, a token, a PKCE
// verifier or an email address.
//
// # Metrics
//
// The callback's outcome increments one of two counters: oauthkit.logins
// (completed logins, by oauthkit.provider) or oauthkit.login.failures
// (failed callbacks, by oauthkit.provider and error.type). error.type is
// a bounded set (see oauthkit.ErrorReason), fit for a metric attribute.
package otelkit

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthkit/oauthkit"
)

// ScopeName is the instrumentation scope of the tracer and the meter, as
// OpenTelemetry names instrumentation libraries: by import path.
const ScopeName = "github.com/oauthkit/oauthkit/otelkit"

// The attribute keys of spans and metrics, besides semconv's error.type.
const (
	// ProviderKey is the name of the kit's provider (Provider.Client.Name()).
	ProviderKey = attribute.Key("oauthkit.provider")
	// OperationKey is the oauthkit.Op of a span.
	OperationKey = attribute.Key("oauthkit.operation")
)

// The metric names.
const (
	// LoginsMetric counts completed logins, by provider.
	LoginsMetric = "oauthkit.logins"
	// LoginFailuresMetric counts failed login callbacks, by provider and
	// error.type.
	LoginFailuresMetric = "oauthkit.login.failures"
)

// Option configures New.
type Option func(*config)

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider sets where the spans go (default: otel's global
// TracerProvider, looked up when New runs).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets where the counters go (default: otel's global
// MeterProvider, looked up when New runs).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// Observer is an oauthkit.Observer reporting to OpenTelemetry. It is safe
// for concurrent use; one Observer can serve several kits.
type Observer struct {
	tracer   trace.Tracer
	logins   metric.Int64Counter
	failures metric.Int64Counter
}

var _ oauthkit.Observer = (*Observer)(nil)

// New returns an Observer for oauthkit.Config.Observer. A counter the
// meter provider refuses to create is reported to otel.Handle, as
// OpenTelemetry's own instrumentation does, and replaced by one that
// records nothing: telemetry never stops a login.
func New(opts ...Option) *Observer {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	meter := c.mp.Meter(ScopeName)
	o := &Observer{tracer: c.tp.Tracer(ScopeName)}
	var err error
	if o.logins, err = meter.Int64Counter(LoginsMetric,
		metric.WithDescription("Completed logins, by provider."), metric.WithUnit("{login}")); err != nil {
		otel.Handle(err)
		o.logins = noop.Int64Counter{}
	}
	if o.failures, err = meter.Int64Counter(LoginFailuresMetric,
		metric.WithDescription("Failed login callbacks, by provider and error type (oauthkit.ErrorReason)."), metric.WithUnit("{failure}")); err != nil {
		otel.Handle(err)
		o.failures = noop.Int64Counter{}
	}
	return o
}

// spanNames are the span names of the kit's ops, made once.
var spanNames = map[oauthkit.Op]string{}

func init() {
	for _, op := range []oauthkit.Op{oauthkit.OpLogin, oauthkit.OpCallback, oauthkit.OpTokenExchange,
		oauthkit.OpUserAPI, oauthkit.OpRefresh, oauthkit.OpRevoke} {
		spanNames[op] = "oauthkit." + string(op)
	}
}

// SpanName is the name of op's spans: "oauthkit." followed by op.
func SpanName(op oauthkit.Op) string {
	if n, ok := spanNames[op]; ok {
		return n
	}
	return "oauthkit." + string(op)
}

// Start begins op's span as a child of ctx's span and returns the span's
// context; the returned func ends it with the outcome and, for a callback,
// counts the login or its failure. Only the provider name, the op and
// oauthkit.ErrorReason(err) are recorded, never err's text.
func (o *Observer) Start(ctx context.Context, op oauthkit.Op, provider string) (context.Context, func(error)) {
	pa := ProviderKey.String(provider)
	ctx, span := o.tracer.Start(ctx, SpanName(op),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(pa, OperationKey.String(string(op))))
	return ctx, func(err error) {
		defer span.End()
		if err == nil {
			if op == oauthkit.OpCallback {
				o.logins.Add(ctx, 1, metric.WithAttributes(pa))
			}
			return
		}
		reason := oauthkit.ErrorReason(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(reason))
		span.SetStatus(codes.Error, reason)
		if op == oauthkit.OpCallback {
			o.failures.Add(ctx, 1, metric.WithAttributes(pa, semconv.ErrorTypeKey.String(reason)))
		}
	}
}
