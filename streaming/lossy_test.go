package streaming

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/mediacheck"
)

// lossyProxy relays UDP between one client and the server, dropping every
// nth RTP packet from the server (RTCP and STUN pass).
type lossyProxy struct {
	front, back *net.UDPConn
	server      *net.UDPAddr
	every       int64
	dropped     atomic.Int64
	byPT        [128]atomic.Int64 // RTP packets relayed, by payload type
	client      atomic.Pointer[net.UDPAddr]
	wg          sync.WaitGroup
}

func newLossyProxy(t *testing.T, serverPort int, every int64) *lossyProxy {
	front, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	back, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &lossyProxy{front: front, back: back, every: every,
		server: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: serverPort}}
	p.wg.Add(2)
	go func() { // client -> server
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, addr, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.client.Store(addr)
			_, _ = back.WriteToUDP(buf[:n], p.server)
		}
	}()
	go func() { // server -> client, lossy
		defer p.wg.Done()
		buf := make([]byte, 2048)
		var rtpCount int64
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			isRTP := n > 2 && buf[0]>>6 == 2 && !(buf[1] >= 192 && buf[1] <= 223)
			if isRTP {
				if rtpCount++; rtpCount%p.every == 0 {
					p.dropped.Add(1)
					continue
				}
				p.byPT[buf[1]&0x7f].Add(1)
			}
			if c := p.client.Load(); c != nil {
				_, _ = front.WriteToUDP(buf[:n], c)
			}
		}
	}()
	t.Cleanup(func() {
		_ = front.Close()
		_ = back.Close()
		p.wg.Wait()
	})
	return p
}

var candidateAddr = regexp.MustCompile(`(a=candidate:\S+ \d+ udp \d+ )\S+ \d+( typ host)`)

// TestWHEPLossRepairedByNACK loses every 25th media packet on the way to
// the viewer: NACKs get them resent from the session's history (which
// shares the stream's payloads) and the video decodes without an error,
// whether the viewer offers RTX (as browsers do) or not.
func TestWHEPLossRepairedByNACK(t *testing.T) {
	for _, rtx := range []bool{false, true} {
		t.Run(map[bool]string{false: "nack", true: "rtx-offered"}[rtx], func(t *testing.T) { testLossRepaired(t, rtx) })
	}
}

func testLossRepaired(t *testing.T, rtx bool) {
	stream, _ := liveStream(t, "w1", 1300*time.Millisecond, true)
	srv, _ := testServer(t, stream)
	proxy := newLossyProxy(t, srv.LocalUDPPort(), 25)

	var answer string
	c, err := dialWHEP(t, srv, "w1", clientOptions{rtx: rtx, answerFilter: func(sdp string) string {
		answer = sdp
		return candidateAddr.ReplaceAllString(sdp, fmt.Sprintf("${1}127.0.0.1 %d${2}", proxy.front.LocalAddr().(*net.UDPAddr).Port))
	}})
	require.NoError(t, err)
	// RTX is answered when offered, with the picked video format's
	// payload type as its apt; resends then come on the RTX stream.
	rtxPT := -1
	if m := regexp.MustCompile(`a=rtpmap:(\d+) rtx/90000`).FindStringSubmatch(answer); m != nil {
		rtxPT, _ = strconv.Atoi(m[1])
	}
	if rtx {
		require.GreaterOrEqual(t, rtxPT, 0, "RTX answered:\n%s", answer)
		require.Regexp(t, fmt.Sprintf(`a=fmtp:%d apt=\d+`, rtxPT), answer)
		require.Regexp(t, `a=ssrc-group:FID \d+ \d+`, answer)
	} else {
		require.Negative(t, rtxPT, "no RTX offered, none answered")
	}

	var all bytes.Buffer
	n := 0
	deadline := time.After(2500 * time.Millisecond)
loop:
	for {
		select {
		case au := <-c.Units():
			if !au.Complete {
				continue // dropped, as a decoder would
			}
			if n == 0 {
				require.True(t, au.IDR)
			}
			all.Write(au.AnnexB)
			n++
		case <-deadline:
			break loop
		}
	}
	t.Logf("dropped %d packets, got %d access units", proxy.dropped.Load(), n)
	require.Positive(t, proxy.dropped.Load())
	// The session counted the repair: NACKs, the packets asked for and
	// resent, all of them while the history holds them.
	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	st := sessions[0]
	t.Logf("session: %d NACKs for %d packets, %d retransmitted, %d unrepaired", st.NACKs, st.NACKedPackets, st.Retransmitted, st.Unrepaired)
	require.Positive(t, st.NACKs)
	require.GreaterOrEqual(t, st.NACKedPackets, st.NACKs)
	require.Positive(t, st.Retransmitted)
	require.GreaterOrEqual(t, st.Retransmitted+3, uint64(proxy.dropped.Load()), "every packet lost but the last few is resent")
	require.Zero(t, st.Unrepaired)
	if rtx {
		// Every resend went as RTX (some RTX packets the proxy drops too).
		// pion's NACK generator (the test's viewer) does not count an RTX
		// repair as received and asks again until the packet ages out,
		// hence more resends than losses; a browser does not.
		require.GreaterOrEqual(t, proxy.byPT[rtxPT].Load()+3, int64(st.Retransmitted)*9/10, "resends on the RTX stream")
		require.Positive(t, proxy.byPT[rtxPT].Load())
	}
	require.Equal(t, Repair{NACKs: st.NACKs, NACKedPackets: st.NACKedPackets, Retransmitted: st.Retransmitted},
		srv.RepairTotals(), "the server's totals (for /metrics) hold the live session's")
	require.Greater(t, n, 50, "the replayed GOP and 2.5 s of live video, all complete")
	require.Empty(t, mediacheck.DecodeErrors(t, all.Bytes()))
}
