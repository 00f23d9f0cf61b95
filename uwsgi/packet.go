// Package uwsgi is the uwsgi wire protocol: the packet nginx's uwsgi_pass
// sends (a 4-byte header, then key/value vars), shared by the Go worker
// library and the HTTP front end.
//
// A packet is
//
//	modifier1 (u8) | datasize (u16 little-endian) | modifier2 (u8)
//	datasize bytes of vars: repeated [u16le len][key][u16le len][value]
//
// The request body follows the vars block (its length is CONTENT_LENGTH);
// ReadPacket does not read it.
package uwsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

const (
	// HeaderSize is modifier1 (u8), datasize (u16 little-endian), modifier2 (u8).
	HeaderSize = 4
	// DefaultBufferSize is uWSGI's buffer-size default: the largest vars block.
	DefaultBufferSize = 4096
	// MaxBufferSize is the most a u16 datasize can say (buffer-size's maximum).
	MaxBufferSize = 65535
	// MaxVars is how many vars uWSGI takes in one request at its default
	// max-vars (64): it keeps 4 x max-vars iovec entries and spends two on
	// each var, so 128 (nginx's own ~15 and about 110 client headers).
	MaxVars = 2 * 64
	// ModifierWSGI is modifier1 0, what nginx sends by default.
	ModifierWSGI = 0
	// ModifierManagePathInfo is nginx's uwsgi_modifier1 30, the old way to
	// mount an app under a prefix (with uwsgi_param SCRIPT_NAME). uWSGI
	// 2.0.21 with python3 serves it as 0, PATH_INFO left as sent; so do
	// supervise's workers.
	ModifierManagePathInfo = 30
)

// Header is a packet's first four bytes.
type Header struct {
	Modifier1 uint8
	DataSize  uint16
	Modifier2 uint8
}

// Var is one key/value pair.
type Var struct{ Key, Value string }

// Packet is a header and its vars, in the order sent (duplicates kept).
type Packet struct {
	Header Header
	Vars   []Var
	// Block is the vars block as received (for the stats scoreboard). Vars
	// do not alias it: changing Block does not change Vars.
	Block []byte
}

// Get returns the first value for key.
func (p *Packet) Get(key string) (string, bool) {
	for i := range p.Vars {
		if p.Vars[i].Key == key {
			return p.Vars[i].Value, true
		}
	}
	return "", false
}

var (
	// ErrTooLarge: datasize above buffer-size (see SizeError), or an
	// encoded block that would not fit a u16.
	ErrTooLarge = errors.New("uwsgi: request block too large")
	// ErrMalformed: the vars block does not parse (truncated length, empty
	// key, a pair running past the block, more than MaxVars pairs).
	ErrMalformed = errors.New("uwsgi: malformed vars block")
	// ErrModifier: modifier1 is not WSGI (see ModifierError).
	ErrModifier = errors.New("uwsgi: unsupported modifier1")
)

// SizeError is ErrTooLarge with the numbers, worded as uWSGI logs it.
type SizeError struct{ Size, Max int }

func (e *SizeError) Error() string {
	return fmt.Sprintf("invalid request block size: %d (max %d)... skip", e.Size, e.Max)
}

// Unwrap makes errors.Is(err, ErrTooLarge) true.
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// ModifierError is ErrModifier with the modifier seen.
type ModifierError struct{ Modifier1 uint8 }

func (e *ModifierError) Error() string {
	return fmt.Sprintf("unsupported modifier1 %d (only 0, WSGI, and 30 are served)", e.Modifier1)
}

// Unwrap makes errors.Is(err, ErrModifier) true.
func (e *ModifierError) Unwrap() error { return ErrModifier }

// malformed wraps ErrMalformed with what was wrong (error path only).
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ParseHeader decodes the four header bytes.
func ParseHeader(b [HeaderSize]byte) Header {
	return Header{Modifier1: b[0], DataSize: binary.LittleEndian.Uint16(b[1:3]), Modifier2: b[3]}
}

// AppendHeader appends the four header bytes of h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	return append(dst, h.Modifier1, byte(h.DataSize), byte(h.DataSize>>8), h.Modifier2)
}

// packetAlloc lets the header bytes share the Packet's allocation: a
// stack array handed to an io.Reader escapes anyway.
type packetAlloc struct {
	p  Packet
	hb [HeaderSize]byte
}

// ReadPacket reads one header and vars block (not the body) from r.
// maxSize is buffer-size, the largest datasize accepted (<= 0 means
// DefaultBufferSize); the block is allocated only after that check.
//
// Errors: io.EOF when r ends before the first byte; io.ErrUnexpectedEOF
// (wrapped) when it ends inside the header or block; *SizeError
// (ErrTooLarge) with nothing past the header read; ErrMalformed; other read
// errors wrapped. A modifier1 other than 0 and 30 gives *ModifierError
// (ErrModifier) together with the packet: the block has been read, and its
// Vars are filled when it parses, so callers can log and close.
func ReadPacket(r io.Reader, maxSize int) (*Packet, error) {
	return ReadPacketVars(r, maxSize, MaxVars)
}

// ReadPacketVars is ReadPacket taking at most maxVars vars (max-vars = N
// means 2 x N, as uWSGI counts them; <= 0 means MaxVars): one more is
// ErrMalformed, and the caller drops the request as uWSGI does.
func ReadPacketVars(r io.Reader, maxSize, maxVars int) (*Packet, error) {
	if maxVars <= 0 {
		maxVars = MaxVars
	}
	if maxSize <= 0 {
		maxSize = DefaultBufferSize
	}
	a := new(packetAlloc)
	if _, err := io.ReadFull(r, a.hb[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("uwsgi header: %w", err)
	}
	p := &a.p
	p.Header = ParseHeader(a.hb)
	if int(p.Header.DataSize) > maxSize {
		return nil, &SizeError{Size: int(p.Header.DataSize), Max: maxSize}
	}
	if p.Header.DataSize > 0 {
		p.Block = make([]byte, p.Header.DataSize)
		if _, err := io.ReadFull(r, p.Block); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("uwsgi vars block (%d bytes): %w", p.Header.DataSize, err)
		}
	}
	var vars []Var
	n, err := scanVars(p.Block, maxVars)
	if err == nil {
		vars = fillVars(p.Block, n)
	}
	if p.Header.Modifier1 != ModifierWSGI && p.Header.Modifier1 != ModifierManagePathInfo {
		p.Vars = vars // nil when the block is not vars: other plugins' formats differ
		return p, &ModifierError{Modifier1: p.Header.Modifier1}
	}
	if err != nil {
		return nil, err
	}
	p.Vars = vars
	return p, nil
}

// ParseVars decodes a whole vars block. Keys and values share one string
// copied from block; the result does not alias block.
func ParseVars(block []byte) ([]Var, error) {
	n, err := scanVars(block, MaxVars)
	if err != nil {
		return nil, err
	}
	return fillVars(block, n), nil
}

// ParseVarsPrefix decodes the complete pairs at the start of a block that
// may have been cut short (the stats scoreboard keeps the first 1 KB). It
// fails only when not even one pair parses.
func ParseVarsPrefix(block []byte) ([]Var, error) {
	n, err := scanVars(block, MaxVars)
	if err != nil && n == 0 {
		return nil, err
	}
	return fillVars(block, n), nil
}

// scanVars validates block and counts its pairs. On error n is the number
// of complete, valid pairs before the fault.
func scanVars(block []byte, limit int) (n int, err error) {
	for i := 0; i < len(block); n++ {
		if n == limit {
			return n, malformed("more than %d vars", limit)
		}
		if len(block)-i < 2 {
			return n, malformed("key length cut short at offset %d", i)
		}
		kl := int(binary.LittleEndian.Uint16(block[i:]))
		if kl == 0 {
			return n, malformed("empty key at offset %d", i)
		}
		j := i + 2 + kl // value length offset
		if j > len(block) {
			return n, malformed("key at offset %d (%d bytes) runs past the block", i, kl)
		}
		if len(block)-j < 2 {
			return n, malformed("value length of %.32q cut short", block[i+2:j])
		}
		vl := int(binary.LittleEndian.Uint16(block[j:]))
		end := j + 2 + vl
		if end > len(block) {
			return n, malformed("value of %.32q (%d bytes) runs past the block", block[i+2:j], vl)
		}
		i = end
	}
	return n, nil
}

// fillVars decodes the first n pairs of a block scanVars accepted: one
// string conversion and one []Var allocation.
func fillVars(block []byte, n int) []Var {
	if n == 0 {
		return nil
	}
	s := string(block)
	vars := make([]Var, n)
	i := 0
	for k := range vars {
		kl := int(s[i]) | int(s[i+1])<<8
		key := s[i+2 : i+2+kl]
		i += 2 + kl
		vl := int(s[i]) | int(s[i+1])<<8
		vars[k] = Var{Key: key, Value: s[i+2 : i+2+vl]}
		i += 2 + vl
	}
	return vars
}

// BlockSize is the encoded size of vars' block (without the header).
func BlockSize(vars []Var) int {
	size := 0
	for _, v := range vars {
		size += 4 + len(v.Key) + len(v.Value)
	}
	return size
}

// AppendPacket appends an encoded packet (header and vars block) to dst.
// It fails, leaving dst as it was, on an empty key (ErrMalformed) or a
// block over 65535 bytes (ErrTooLarge). It does not apply MaxVars.
func AppendPacket(dst []byte, modifier1, modifier2 uint8, vars []Var) ([]byte, error) {
	for _, v := range vars {
		if v.Key == "" {
			return dst, malformed("empty key")
		}
		if len(v.Key) > MaxBufferSize || len(v.Value) > MaxBufferSize {
			return dst, fmt.Errorf("%w: var %.32q longer than %d bytes", ErrTooLarge, v.Key, MaxBufferSize)
		}
	}
	size := BlockSize(vars)
	if size > MaxBufferSize {
		return dst, &SizeError{Size: size, Max: MaxBufferSize}
	}
	dst = slices.Grow(dst, HeaderSize+size)
	dst = AppendHeader(dst, Header{Modifier1: modifier1, DataSize: uint16(size), Modifier2: modifier2})
	for _, v := range vars {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Key)))
		dst = append(dst, v.Key...)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Value)))
		dst = append(dst, v.Value...)
	}
	return dst, nil
}

// Encode is AppendPacket(nil, 0, 0, vars): a WSGI (modifier1 0) packet.
func Encode(vars []Var) ([]byte, error) {
	return AppendPacket(nil, ModifierWSGI, 0, vars)
}
