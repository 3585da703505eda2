package spool

import (
	"encoding/binary"
	"hash/crc32"
)

// A record on disk is an 8-byte header (payload length, then the CRC32C of
// the length bytes and the payload, both little-endian) followed by the
// payload. The CRC covers the length too, so a flipped length bit is caught
// before it sends the scan off into the middle of another record.
const recordHeaderBytes = 8

// MaxRecordBytes bounds one payload. It also bounds what recovery believes a
// length field: anything larger is a torn or corrupt header.
const MaxRecordBytes = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func framedSize(payload int) int64 { return int64(recordHeaderBytes + payload) }

// appendRecord frames payload onto buf. The header is built in buf itself:
// a local array would escape to the heap through crc32.Update.
func appendRecord(buf, payload []byte) []byte {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = append(buf, 0, 0, 0, 0)
	buf = append(buf, payload...)
	crc := crc32.Update(0, castagnoli, buf[start:start+4])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(buf[start+4:], crc)
	return buf
}

// parseRecord decodes the record at the start of b. It returns the payload
// and the framed size; n == 0 means b holds no complete record (short), and
// bad reports a complete record whose length or checksum is wrong.
func parseRecord(b []byte) (payload []byte, n int, bad bool) {
	if len(b) < recordHeaderBytes {
		return nil, 0, false
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	if length > MaxRecordBytes {
		return nil, 0, true
	}
	end := recordHeaderBytes + int(length)
	if len(b) < end {
		return nil, 0, false
	}
	crc := crc32.Update(0, castagnoli, b[0:4])
	crc = crc32.Update(crc, castagnoli, b[recordHeaderBytes:end])
	if crc != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, true
	}
	return b[recordHeaderBytes:end], end, false
}
