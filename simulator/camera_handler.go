package simulator

import (
	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// cameraHandler answers RTSP requests; it is separate from CameraServer so
// that gortsplib's callbacks do not become part of the exported API.
type cameraHandler struct {
	s *CameraServer
}

// lookup maps a request path to its stream, or to 404.
func (h *cameraHandler) lookup(path string) (*base.Response, *gortsplib.ServerStream, error) {
	c := h.s.camera(path)
	if c == nil {
		h.s.logger.Debug("unknown path", "path", path)
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

func (h *cameraHandler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.lookup(ctx.Path)
}

func (h *cameraHandler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return h.lookup(ctx.Path)
}

func (h *cameraHandler) OnPlay(_ *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *cameraHandler) OnSessionOpen(ctx *gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.s.logger.Debug("reader connected", "remote", ctx.Conn.NetConn().RemoteAddr())
}

func (h *cameraHandler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.s.logger.Debug("reader left", "error", ctx.Error)
}
