package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Camera errors. A camera's LastError holds the message of one of these or
// of the RTSP failure that ended its session.
var (
	// ErrCameraConfig marks a Camera or CameraSet configuration that
	// cannot work; Initialize returns it.
	ErrCameraConfig = errors.New("invalid camera configuration")
	// ErrCameraCodec marks a camera that sends no H.264 or H.265 video; a
	// *CameraCodecError carries what it sends instead.
	ErrCameraCodec = errors.New("camera codec not supported")
	// ErrCameraStalled marks a session that stayed up without video.
	ErrCameraStalled = errors.New("camera sends no video")
)

// CameraCodecError says what a camera sends instead of H.264 or H.265.
type CameraCodecError struct {
	// Video codecs the camera offers, as gortsplib names them ("MJPEG",
	// "MPEG-4 Video", ...); empty when it offers no video at all.
	Video []string
	// Other (audio, metadata) codecs it offers.
	Other []string
}

func (e *CameraCodecError) Error() string {
	switch {
	case len(e.Video) > 0:
		return fmt.Sprintf("camera sends %s; Sunlight needs H.264 or H.265", strings.Join(e.Video, ", "))
	case len(e.Other) > 0:
		return fmt.Sprintf("camera sends no video, only %s; Sunlight needs H.264 or H.265", strings.Join(e.Other, ", "))
	default:
		return "camera sends no media; Sunlight needs H.264 or H.265"
	}
}

// Is makes errors.Is(err, ErrCameraCodec) hold.
func (e *CameraCodecError) Is(target error) bool { return target == ErrCameraCodec }

// cameraStallError is ErrCameraStalled with how long the video was missing.
type cameraStallError struct{ For time.Duration }

func (e cameraStallError) Error() string {
	return fmt.Sprintf("%v for %v", ErrCameraStalled, e.For.Round(100*time.Millisecond))
}

func (e cameraStallError) Unwrap() error { return ErrCameraStalled }
