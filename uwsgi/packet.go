// Package uwsgi is the uwsgi wire protocol: the packet nginx's uwsgi_pass
// sends (a 4-byte header, then key/value vars), shared by the Go worker
// library and the HTTP front end.
package uwsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// HeaderSize is modifier1 (u8), datasize (u16 little-endian), modifier2 (u8).
	HeaderSize = 4
	// DefaultBufferSize is uWSGI's buffer-size default: the largest vars block.
	DefaultBufferSize = 4096
	// MaxBufferSize is the most a u16 datasize can say.
	MaxBufferSize = 65535
	// MaxVars is uWSGI's max-vars cap on pairs.
	MaxVars = 64
	// ModifierWSGI is modifier1 0, what nginx sends by default.
	ModifierWSGI = 0
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
	Block  []byte // the vars block as received (for the stats scoreboard)
}

// Get returns the first value for key.
func (p *Packet) Get(key string) (string, bool) {
	for _, v := range p.Vars {
		if v.Key == key {
			return v.Value, true
		}
	}
	return "", false
}

var (
	// ErrTooLarge: datasize above buffer-size (see SizeError).
	ErrTooLarge = errors.New("uwsgi: request block too large")
	// ErrMalformed: the vars block does not parse.
	ErrMalformed = errors.New("uwsgi: malformed vars block")
	// ErrModifier: modifier1 is not WSGI (see ModifierError).
	ErrModifier = errors.New("uwsgi: unsupported modifier1")
)

// SizeError is ErrTooLarge with the numbers, worded as uWSGI logs it.
type SizeError struct{ Size, Max int }

func (e *SizeError) Error() string {
	return fmt.Sprintf("invalid request block size: %d (max %d)... skip", e.Size, e.Max)
}
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// ModifierError is ErrModifier with the modifier seen.
type ModifierError struct{ Modifier1 uint8 }

func (e *ModifierError) Error() string {
	return fmt.Sprintf("unsupported modifier1 %d (only 0, WSGI, is served)", e.Modifier1)
}
func (e *ModifierError) Unwrap() error { return ErrModifier }

// malformed wraps ErrMalformed with what was wrong.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ParseHeader reads the four header bytes.
func ParseHeader(b [HeaderSize]byte) Header {
	return Header{Modifier1: b[0], DataSize: binary.LittleEndian.Uint16(b[1:3]), Modifier2: b[3]}
}

// ReadPacket reads one header and vars block (not the body) from r. The
// block is allocated only after datasize is checked against maxSize.
func ReadPacket(r io.Reader, maxSize int) (*Packet, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("uwsgi header: %w", err)
		}
		return nil, err
	}
	h := ParseHeader(hb)
	if int(h.DataSize) > maxSize {
		return nil, &SizeError{Size: int(h.DataSize), Max: maxSize}
	}
	block := make([]byte, h.DataSize)
	if _, err := io.ReadFull(r, block); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("uwsgi vars block: %w", err)
	}
	vars, err := ParseVars(block)
	if err != nil {
		return nil, err
	}
	p := &Packet{Header: h, Vars: vars, Block: block}
	if h.Modifier1 != ModifierWSGI {
		return p, &ModifierError{Modifier1: h.Modifier1}
	}
	return p, nil
}

// ParseVars decodes a whole vars block.
func ParseVars(block []byte) ([]Var, error) {
	vars, rest, err := parseVars(block)
	if err != nil {
		return nil, err
	}
	if rest != 0 {
		return nil, malformed("%d stray bytes at the end", rest)
	}
	return vars, nil
}

// ParseVarsPrefix decodes the complete pairs at the start of a block that
// may have been cut short (the stats scoreboard keeps the first 1 KB).
func ParseVarsPrefix(block []byte) ([]Var, error) {
	vars, _, err := parseVars(block)
	if errors.Is(err, ErrMalformed) && len(vars) > 0 {
		return vars, nil
	}
	return vars, err
}

func parseVars(block []byte) ([]Var, int, error) {
	s := string(block) // one allocation; keys and values slice it
	vars := make([]Var, 0, 24)
	for i := 0; i < len(s); {
		if len(vars) == MaxVars {
			return vars, 0, malformed("more than %d vars", MaxVars)
		}
		key, next, ok := field(s, i)
		if !ok {
			return vars, len(s) - i, malformed("key at offset %d runs past the block", i)
		}
		if key == "" {
			return vars, 0, malformed("empty key at offset %d", i)
		}
		val, after, ok := field(s, next)
		if !ok {
			return vars, len(s) - i, malformed("value of %q runs past the block", key)
		}
		vars = append(vars, Var{Key: key, Value: val})
		i = after
	}
	return vars, 0, nil
}

// field reads a u16-length-prefixed string at s[i:].
func field(s string, i int) (string, int, bool) {
	if i+2 > len(s) {
		return "", 0, false
	}
	n := int(s[i]) | int(s[i+1])<<8
	end := i + 2 + n
	if end > len(s) {
		return "", 0, false
	}
	return s[i+2 : end], end, true
}

// AppendPacket appends an encoded packet to dst.
func AppendPacket(dst []byte, modifier1, modifier2 uint8, vars []Var) ([]byte, error) {
	size := 0
	for _, v := range vars {
		if v.Key == "" {
			return dst, malformed("empty key")
		}
		if len(v.Key) > MaxBufferSize || len(v.Value) > MaxBufferSize {
			return dst, fmt.Errorf("%w: var %q longer than 65535 bytes", ErrTooLarge, v.Key)
		}
		size += 4 + len(v.Key) + len(v.Value)
	}
	if size > MaxBufferSize {
		return dst, &SizeError{Size: size, Max: MaxBufferSize}
	}
	dst = append(dst, modifier1, byte(size), byte(size>>8), modifier2)
	for _, v := range vars {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Key)))
		dst = append(dst, v.Key...)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v.Value)))
		dst = append(dst, v.Value...)
	}
	return dst, nil
}
