package dbctltest

import (
	"strings"
)

// A small SQL lexer shared by both emulated servers. It keeps each token's
// byte offset so that Manticore's parse errors can quote the statement text
// "near" a token the way the real server does.

type tokKind int

const (
	tEnd      tokKind = iota
	tIdent            // name, or `name` (text without back-ticks)
	tString           // 'text' (text unescaped)
	tInt              // 123
	tFloat            // 1.5
	tPunct            // one ASCII punctuation character
	tHigh             // a byte >= 0x80 outside quotes (Manticore reads it as the end)
	tSubkey           // .`name` (Manticore's BACKTICKED_SUBKEY)
	tBadNum           // 1abc without back-ticks
	tBadQuote         // an unterminated quote or back-tick
)

type token struct {
	kind   tokKind
	text   string
	pos    int  // offset of the token in the statement
	quoted bool // tIdent written in back-ticks (or MatrixOne double quotes)
}

func (t token) is(kw string) bool {
	return t.kind == tIdent && !t.quoted && strings.EqualFold(t.text, kw)
}

func (t token) isPunct(c byte) bool { return t.kind == tPunct && t.text == string(c) }

func isAlpha(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// lexMode is the dialect: Manticore has no double-quoted strings and
// accepts only `name` (letters, digits, '_') in back-ticks; MatrixOne reads
// "x" as a string and anything up to the closing back-tick as a name.
type lexMode int

const (
	manticoreLex lexMode = iota
	matrixOneLex
)

// lex splits sql into tokens, ending with a tEnd token at len(sql).
func lex(sql string, mode lexMode) []token {
	dqString := mode == matrixOneLex
	var out []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c >= 0x80:
			out = append(out, token{kind: tHigh, text: sql[i : i+1], pos: start})
			i++
		case isAlpha(c):
			for i < len(sql) && isAlnum(sql[i]) {
				i++
			}
			out = append(out, token{kind: tIdent, text: sql[start:i], pos: start})
		case isDigit(c):
			for i < len(sql) && isDigit(sql[i]) {
				i++
			}
			kind := tInt
			if i < len(sql) && sql[i] == '.' && i+1 < len(sql) && isDigit(sql[i+1]) {
				i++
				for i < len(sql) && isDigit(sql[i]) {
					i++
				}
				kind = tFloat
			}
			if i < len(sql) && isAlpha(sql[i]) && kind == tInt {
				for i < len(sql) && isAlnum(sql[i]) {
					i++
				}
				kind = tBadNum
			}
			out = append(out, token{kind: kind, text: sql[start:i], pos: start})
		case c == '\'' && mode == manticoreLex:
			s, n, ok := readManticoreString(sql[i:])
			if !ok {
				out = append(out, token{kind: tBadQuote, text: sql[i:], pos: start})
				i = len(sql)
				continue
			}
			out = append(out, token{kind: tString, text: s, pos: start})
			i += n
		case c == '\'' || (c == '"' && dqString):
			s, n, ok := readQuoted(sql[i:], c)
			if !ok {
				out = append(out, token{kind: tBadQuote, text: sql[i:], pos: start})
				i = len(sql)
				continue
			}
			out = append(out, token{kind: tString, text: s, pos: start})
			i += n
		case c == '`' && mode == matrixOneLex:
			s, n, ok := readQuoted(sql[i:], '`')
			if !ok {
				out = append(out, token{kind: tBadQuote, text: sql[i:], pos: start})
				i = len(sql)
				continue
			}
			out = append(out, token{kind: tIdent, text: s, pos: start, quoted: true})
			i += n
		case c == '`':
			j := i + 1
			for j < len(sql) && isAlnum(sql[j]) {
				j++
			}
			if j < len(sql) && sql[j] == '`' && hasAlpha(sql[i+1:j]) {
				out = append(out, token{kind: tIdent, text: sql[i+1 : j], pos: start, quoted: true})
				i = j + 1
			} else {
				out = append(out, token{kind: tPunct, text: "`", pos: start})
				i++
			}
		case c == '.' && mode == manticoreLex:
			j := i + 1
			for j < len(sql) && (sql[j] == ' ' || sql[j] == '\t') {
				j++
			}
			if j < len(sql) && sql[j] == '`' {
				k := j + 1
				for k < len(sql) && sql[k] != '`' && sql[k] != '\n' {
					k++
				}
				if k < len(sql) && sql[k] == '`' {
					out = append(out, token{kind: tSubkey, text: sql[j+1 : k], pos: j})
					i = k + 1
					continue
				}
			}
			out = append(out, token{kind: tPunct, text: ".", pos: start})
			i++
		default:
			out = append(out, token{kind: tPunct, text: string(c), pos: start})
			i++
		}
	}
	return append(out, token{kind: tEnd, pos: len(sql)})
}

func hasAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if isAlpha(s[i]) {
			return true
		}
	}
	return false
}

// readManticoreString reads a string literal starting at its opening quote
// (s[0]) as searchd reads one: the token is '([^'\\]|\\.|\\\\)*'
// (src/sphinxql.l and src/ddl.l, TOK_QUOTED_STRING; flex's '.' is any byte
// but a newline), so the first quote not taken by a backslash ends it, and
// a doubled quote ends one string and starts another. Its text is
// unescaped by SqlUnescapeN (src/sphinxint.h): \b \n \r \t are
// backspace, newline, carriage return and tab, \0 is a space, and a
// backslash before any other byte stands for that byte. A backslash before
// a newline, or a missing closing quote, is no string token (ok false).
func readManticoreString(s string) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			return b.String(), i + 1, true
		case '\\':
			if i+1 >= len(s) || s[i+1] == '\n' {
				return "", 0, false
			}
			i++
			switch s[i] {
			case 'b':
				b.WriteByte('\b')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(' ')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// readQuoted reads a quoted string starting at s[0] == q, with doubled
// quotes and backslash escapes, and returns its value and length (MySQL's
// and MatrixOne's reading).
func readQuoted(s string, q byte) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(0)
			case 'Z':
				b.WriteByte(0x1a)
			default:
				b.WriteByte(s[i])
			}
		case c == q:
			if i+1 < len(s) && s[i+1] == q {
				b.WriteByte(q)
				i++
				continue
			}
			return b.String(), i + 1, true
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// parser walks a token list.
type parser struct {
	sql  string
	toks []token
	i    int
}

func newParser(sql string, mode lexMode) *parser {
	return &parser{sql: sql, toks: lex(sql, mode)}
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEnd {
		p.i++
	}
	return t
}

// accept consumes the keyword kw if it comes next.
func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.i++
		return true
	}
	return false
}

// acceptPunct consumes the punctuation c if it comes next.
func (p *parser) acceptPunct(c byte) bool {
	if p.peek().isPunct(c) {
		p.i++
		return true
	}
	return false
}

// acceptSeq consumes the keywords if they all come next, in order.
func (p *parser) acceptSeq(kws ...string) bool {
	for k, kw := range kws {
		if p.i+k >= len(p.toks) || !p.toks[p.i+k].is(kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *parser) atEnd() bool {
	// A trailing ';' is tolerated, as by the real clients' servers.
	if p.peek().isPunct(';') && p.toks[p.i+1].kind == tEnd {
		return true
	}
	return p.peek().kind == tEnd
}

// rest is the statement text from token t on.
func (p *parser) rest(t token) string { return p.sql[t.pos:] }
