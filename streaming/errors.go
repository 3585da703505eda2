package streaming

import (
	"errors"
	"fmt"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// Sentinel errors. Those a caller may show are wrapped with an apperr kind.
var (
	// ErrStreamClosed is returned by Reader.Next and Stream.AddReader once
	// the stream is closed. It is of kind apperr.Unavailable.
	ErrStreamClosed = fmt.Errorf("stream closed: %w", apperr.Unavailable)
	// ErrReaderClosed is returned by Reader.Next after RemoveReader.
	ErrReaderClosed = errors.New("reader removed")
	// ErrCodecChanged is returned by Reader.Next when the camera came back
	// with another codec: a viewer must negotiate again.
	ErrCodecChanged = fmt.Errorf("the camera's codec changed: %w", apperr.Unavailable)
	// ErrServerClosed is returned by WebRTCServer.NewSession after Close.
	ErrServerClosed = apperr.LiveClosing.New(nil, "live viewing is shutting down")
)
