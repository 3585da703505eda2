package streaming

import "encoding/binary"

// clipEdit is one elst entry, in ticks.
type clipEdit struct {
	mediaTime, duration int64
}

// layout builds the header (ftyp, moov, mdat header) and the chunk map
// of the runs.
func (c *Clip) layout(runs []clipRun, entries [][]byte) {
	var (
		edits     []clipEdit
		durs      []uint32
		sizes     []uint32
		syncs     []uint32
		stsc      []clipStsc
		chunkOffs []int64 // relative to the mdat's payload
		payload   int64
		media     int64 // decode time in the clip
	)
	for _, r := range runs {
		shownAt := media
		lastChunkSamples := uint32(0)
		prevEnd := int64(-1)
		for i := r.first; i < r.first+r.pre+r.shown; i++ {
			s := r.src.samples[i]
			if i == r.first+r.pre {
				shownAt = media
			}
			if s.off != prevEnd || len(c.chunks) == 0 || c.chunks[len(c.chunks)-1].src != r.src {
				// A new chunk.
				if lastChunkSamples > 0 {
					stsc = appendStsc(stsc, uint32(len(chunkOffs)), lastChunkSamples, uint32(r.entryIdx))
				}
				c.chunks = append(c.chunks, clipChunk{out: payload, src: r.src, srcOff: s.off})
				chunkOffs = append(chunkOffs, payload)
				lastChunkSamples = 0
			}
			c.chunks[len(c.chunks)-1].n += int64(s.size)
			lastChunkSamples++
			prevEnd = s.off + int64(s.size)
			payload += int64(s.size)
			dur := s.dur
			if i < r.first+r.pre {
				dur = 1 // pre-roll: see "Exact start" in clip.go
			}
			durs = append(durs, dur)
			sizes = append(sizes, s.size)
			if s.sync {
				syncs = append(syncs, uint32(len(sizes)))
			}
			media += int64(dur)
		}
		stsc = appendStsc(stsc, uint32(len(chunkOffs)), lastChunkSamples, uint32(r.entryIdx))
		// prevEnd resets per run: a run never shares a chunk with the
		// previous one.
		if n := len(edits); n > 0 && r.pre == 0 && edits[n-1].mediaTime+edits[n-1].duration == shownAt {
			edits[n-1].duration += r.shownDur
		} else {
			edits = append(edits, clipEdit{mediaTime: shownAt, duration: r.shownDur})
		}
		c.duration += r.shownDur
		c.frames += r.shown
	}

	var w boxWriter
	w.start("ftyp")
	w.fourcc("isom")
	w.u32(0x200)
	for _, b := range []string{"isom", "iso2", clipEntryType(entries[0]), "mp41"} {
		w.fourcc(b)
	}
	w.end()

	width, height := runs[0].src.info.Width, runs[0].src.info.Height
	long := c.duration >= 1<<32 || media >= 1<<32
	ver := byte(0)
	if long {
		ver = 1
	}
	timeField := func(v int64) {
		if long {
			w.u64(uint64(v))
		} else {
			w.u32(uint32(v))
		}
	}
	w.start("moov")
	w.fullStart("mvhd", ver, 0)
	timeField(0) // creation
	timeField(0) // modification
	w.u32(recTimescale)
	timeField(c.duration)
	w.u32(0x00010000)
	w.u16(0x0100)
	w.zeros(10)
	w.matrix()
	w.zeros(24)
	w.u32(recTrackID + 1)
	w.end()

	w.start("trak")
	w.fullStart("tkhd", ver, 3)
	timeField(0)
	timeField(0)
	w.u32(recTrackID)
	w.u32(0)
	timeField(c.duration)
	w.zeros(8)
	w.u16(0)
	w.u16(0)
	w.u16(0)
	w.u16(0)
	w.matrix()
	w.u32(uint32(width) << 16)
	w.u32(uint32(height) << 16)
	w.end()

	w.start("edts")
	w.fullStart("elst", ver, 0)
	w.u32(uint32(len(edits)))
	for _, e := range edits {
		timeField(e.duration)
		timeField(e.mediaTime)
		w.u16(1) // media rate 1.0
		w.u16(0)
	}
	w.end()
	w.end()

	w.start("mdia")
	w.fullStart("mdhd", ver, 0)
	timeField(0)
	timeField(0)
	w.u32(recTimescale)
	timeField(media)
	w.u16(0x55c4) // "und"
	w.u16(0)
	w.end()
	w.videoHandlerAndMinf()

	w.start("stbl")
	w.fullStart("stsd", 0, 0)
	w.u32(uint32(len(entries)))
	for _, e := range entries {
		w.raw(e)
	}
	w.end()

	w.fullStart("stts", 0, 0)
	n := 0
	at := len(w.b)
	w.u32(0)
	for i := 0; i < len(durs); {
		j := i + 1
		for j < len(durs) && durs[j] == durs[i] {
			j++
		}
		w.u32(uint32(j - i))
		w.u32(durs[i])
		n++
		i = j
	}
	binary.BigEndian.PutUint32(w.b[at:], uint32(n))
	w.end()

	if len(syncs) < len(sizes) {
		w.fullStart("stss", 0, 0)
		w.u32(uint32(len(syncs)))
		for _, s := range syncs {
			w.u32(s)
		}
		w.end()
	}

	w.fullStart("stsc", 0, 0)
	w.u32(uint32(len(stsc)))
	for _, e := range stsc {
		w.u32(e.firstChunk)
		w.u32(e.perChunk)
		w.u32(e.entry)
	}
	w.end()

	w.fullStart("stsz", 0, 0)
	w.u32(0)
	w.u32(uint32(len(sizes)))
	for _, s := range sizes {
		w.u32(s)
	}
	w.end()

	// Chunk offsets: relative for now, the header's length added below
	// (its length does not depend on them).
	co64 := payload+int64(len(w.b))+int64(len(chunkOffs))*8+1<<20 >= 1<<32
	tab := "stco"
	if co64 {
		tab = "co64"
	}
	w.fullStart(tab, 0, 0)
	w.u32(uint32(len(chunkOffs)))
	offsAt := len(w.b)
	for range chunkOffs {
		if co64 {
			w.u64(0)
		} else {
			w.u32(0)
		}
	}
	w.end()
	w.end() // stbl
	w.end() // minf
	w.end() // mdia
	w.end() // trak
	w.end() // moov

	// mdat, with a 64-bit size if need be.
	if payload+8 < 1<<32 {
		w.u32(uint32(8 + payload))
		w.fourcc("mdat")
	} else {
		w.u32(1)
		w.fourcc("mdat")
		w.u64(uint64(16 + payload))
	}
	base := int64(len(w.b))
	for i, o := range chunkOffs {
		if co64 {
			binary.BigEndian.PutUint64(w.b[offsAt+8*i:], uint64(base+o))
		} else {
			binary.BigEndian.PutUint32(w.b[offsAt+4*i:], uint32(base+o))
		}
	}
	for i := range c.chunks {
		c.chunks[i].out += base
	}
	c.header = w.b
	c.size = base + payload
}

// clipStsc is an stsc entry: from firstChunk (1-based) on, chunks of
// perChunk samples of sample entry entry.
type clipStsc struct{ firstChunk, perChunk, entry uint32 }

// appendStsc adds chunk (1-based) of n samples to the stsc runs.
func appendStsc(runs []clipStsc, chunk, n, entry uint32) []clipStsc {
	if k := len(runs); k > 0 && runs[k-1].perChunk == n && runs[k-1].entry == entry {
		return runs
	}
	return append(runs, clipStsc{chunk, n, entry})
}
