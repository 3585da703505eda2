package streaming

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/logging"
)

// pionLoggerFactory sends pion's logs to slog, a level lower: pion's Info
// (state changes of every peer) and its warnings (mostly the races of a
// normal teardown, and peers' oddities) go to Debug, its errors to Warn;
// the session logs what matters itself. Formatting happens only when the
// level is enabled, and warnings, which pion may log per packet, are
// limited to a few a second in all.
type pionLoggerFactory struct {
	logger *slog.Logger
	limit  *logLimiter
}

func newPionLoggerFactory(logger *slog.Logger) pionLoggerFactory {
	return pionLoggerFactory{logger: logger, limit: &logLimiter{perSecond: 10}}
}

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{l: f.logger.With("pion", scope), limit: f.limit}
}

// logLimiter allows perSecond messages a second and counts the others.
type logLimiter struct {
	perSecond int

	mu         sync.Mutex
	window     time.Time
	count      int
	suppressed int
}

// allow tells whether a message may be logged, and how many were
// suppressed before it.
func (l *logLimiter) allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.window) >= time.Second {
		l.window, l.count = now, 0
	}
	if l.count >= l.perSecond {
		l.suppressed++
		return false, 0
	}
	l.count++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

type pionLogger struct {
	l     *slog.Logger
	limit *logLimiter
}

func (p pionLogger) log(level slog.Level, msg string) {
	ctx := context.Background()
	if !p.l.Enabled(ctx, level) {
		return
	}
	if level >= slog.LevelDebug {
		ok, suppressed := p.limit.allow()
		if !ok {
			return
		}
		if suppressed > 0 {
			p.l.Log(ctx, level, msg, "suppressed_before", suppressed)
			return
		}
	}
	p.l.Log(ctx, level, msg)
}

func (p pionLogger) logf(level slog.Level, format string, args ...any) {
	if p.l.Enabled(context.Background(), level) {
		p.log(level, fmt.Sprintf(format, args...))
	}
}

func (p pionLogger) Trace(msg string)                  { p.log(slog.LevelDebug-4, msg) }
func (p pionLogger) Tracef(format string, args ...any) { p.logf(slog.LevelDebug-4, format, args...) }
func (p pionLogger) Debug(msg string)                  { p.log(slog.LevelDebug, msg) }
func (p pionLogger) Debugf(format string, args ...any) { p.logf(slog.LevelDebug, format, args...) }
func (p pionLogger) Info(msg string)                   { p.log(slog.LevelDebug, msg) }
func (p pionLogger) Infof(format string, args ...any)  { p.logf(slog.LevelDebug, format, args...) }
func (p pionLogger) Warn(msg string)                   { p.log(slog.LevelDebug, msg) }
func (p pionLogger) Warnf(format string, args ...any)  { p.logf(slog.LevelDebug, format, args...) }
func (p pionLogger) Error(msg string)                  { p.log(slog.LevelWarn, msg) }
func (p pionLogger) Errorf(format string, args ...any) { p.logf(slog.LevelWarn, format, args...) }
