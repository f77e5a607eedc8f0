// Package sqlshape reduces SQL statements to shapes and records, process
// wide, the shapes the embedded servers of dbctltest receive.
//
// A shape keeps a statement's syntax and drops its data: keywords stay
// (upper-cased), every identifier, number and string becomes "?", a
// qualified name (a.b) is one identifier, and a comma-separated list whose
// items repeat collapses to one item, so that "VALUES (1,'a'),(2,'b')" and
// "(id, title, gid)" reduce alike whatever their lengths. Words followed by
// "(" that are not table names or column types are function names and
// stay (upper-cased).
// Whitespace, comments and a trailing ";" do not count.
//
// Examples:
//
//	FREEZE cap_rt, cap_dist, cap_nope          -> FREEZE ?
//	SHOW TABLE cap_pq STATUS LIKE 'locked'     -> SHOW TABLE ? STATUS LIKE ?
//	INSERT INTO t (id, title) VALUES (1,'x')   -> INSERT INTO ? (?) VALUES (?)
//	select mo_ctl('dn', 'flush', 'db1.t')      -> SELECT MO_CTL (?)
package sqlshape

import (
	"strings"
)

type kind int

const (
	kWord    kind = iota // bare word
	kIdent               // `quoted` identifier
	kLiteral             // number or string
	kPunct               // operator or punctuation
	kGroup               // ( ... )
)

type tok struct {
	kind kind
	text string
	sub  []tok // kGroup
}

// Reduce returns the shape of one statement.
func Reduce(sql string) string {
	toks := lex(sql)
	for len(toks) > 0 && toks[len(toks)-1].kind == kPunct && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	groups, _ := group(toks, 0, 0)
	return strings.Join(render(groups), " ")
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// twoCharOps are the operators read as one token.
var twoCharOps = map[string]bool{">=": true, "<=": true, "!=": true, "<>": true, "=>": true, ":=": true, "||": true, "&&": true, "@@": true}

func lex(s string) []tok {
	out := make([]tok, 0, len(s)/4+4)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '-' && i+2 < len(s) && s[i+1] == '-' && (s[i+2] == ' ' || s[i+2] == '\t'):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return out
			}
			i += end + 1
		case c == '\'' || c == '"':
			i = skipQuoted(s, i)
			out = append(out, tok{kind: kLiteral, text: "?"})
		case c == '?': // a placeholder is a literal (and shapes reduce to themselves)
			i++
			out = append(out, tok{kind: kLiteral, text: "?"})
		case c == '`':
			i = skipQuoted(s, i)
			out = append(out, tok{kind: kIdent, text: "?"})
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1]) && !afterName(out)):
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.' ||
				((s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && isDigit(s[i]))) {
				j++
			}
			if allDigitsOrNumber(s[i:j]) {
				out = append(out, tok{kind: kLiteral, text: "?"})
			} else { // 1abc: a name
				out = append(out, tok{kind: kWord, text: s[i:j]})
			}
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, tok{kind: kWord, text: s[i:j]})
			i = j
		default:
			if i+1 < len(s) && twoCharOps[s[i:i+2]] {
				out = append(out, tok{kind: kPunct, text: s[i : i+2]})
				i += 2
				continue
			}
			out = append(out, tok{kind: kPunct, text: s[i : i+1]})
			i++
		}
	}
	return out
}

// afterName reports whether the last token can be followed by ".name".
func afterName(out []tok) bool {
	if len(out) == 0 {
		return false
	}
	k := out[len(out)-1].kind
	return k == kWord || k == kIdent
}

func allDigitsOrNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' && c != 'x' && c != 'X' &&
			!(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// skipQuoted returns the index after the quoted text starting at s[i]
// (doubled quotes and backslash escapes inside; an unterminated quote runs
// to the end).
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// group nests the tokens between "(" and ")"; inside a group (depth > 0)
// it returns at the ")" that closes it (or at the end); at the top level a
// stray ")" is punctuation.
func group(toks []tok, i, depth int) ([]tok, int) {
	var out []tok
	for i < len(toks) {
		t := toks[i]
		if t.kind == kPunct && t.text == ")" && depth > 0 {
			return out, i + 1
		}
		if t.kind == kPunct && t.text == "(" {
			var sub []tok
			sub, i = group(toks, i+1, depth+1)
			out = append(out, tok{kind: kGroup, sub: sub})
			continue
		}
		out = append(out, t)
		i++
	}
	return out, i
}

// tableBefore are the keywords after which "name (" is a table and its
// column list, not a function call.
var tableBefore = map[string]bool{"INTO": true, "TABLE": true, "EXISTS": true, "ON": true, "REFERENCES": true, "JOIN": true, "FROM": true, "UPDATE": true, "INDEX": true, "KEY": true}

// render maps one level of tokens to shape words and collapses repeated
// list items.
func render(toks []tok) []string {
	words := make([]string, 0, len(toks))
	prevKw := ""
	for i, t := range toks {
		var w string
		switch t.kind {
		case kGroup:
			w = "(" + strings.Join(render(t.sub), " ") + ")"
		case kIdent, kLiteral:
			w = "?"
		case kPunct:
			w = t.text
		case kWord:
			up := strings.ToUpper(t.text)
			nextGroup := i+1 < len(toks) && toks[i+1].kind == kGroup
			prevDot := i > 0 && toks[i-1].kind == kPunct && toks[i-1].text == "."
			// after a name, "word(" is a column type: amount decimal(10,2)
			prevName := i > 0 && len(words) > 0 && words[len(words)-1] == "?"
			switch {
			case prevDot:
				w = "?"
			case keywords[up]:
				w = up
			case nextGroup && !tableBefore[prevKw] && !prevName:
				w = up // a function name
			default:
				w = "?"
			}
		}
		if t.kind == kWord && keywords[strings.ToUpper(t.text)] {
			prevKw = strings.ToUpper(t.text)
		} else if t.kind != kPunct {
			prevKw = ""
		}
		words = append(words, w)
	}
	words = collapseQualified(words)
	return collapseLists(words)
}

// collapseQualified turns "? . ?" (db.table, table.column) into "?".
func collapseQualified(w []string) []string {
	out := w[:0:0]
	for i := 0; i < len(w); i++ {
		if w[i] == "." && len(out) > 0 && out[len(out)-1] == "?" && i+1 < len(w) && w[i+1] == "?" {
			i++
			continue
		}
		out = append(out, w[i])
	}
	return out
}

// collapseLists splits words at commas into items and drops every item that
// equals the end of the item kept before it: "FREEZE ? , ? , ?" becomes
// "FREEZE ?", "VALUES (?) , (?)" becomes "VALUES (?)".
func collapseLists(w []string) []string {
	var items [][]string
	start := 0
	for i := 0; i <= len(w); i++ {
		if i == len(w) || w[i] == "," {
			items = append(items, w[start:i])
			start = i + 1
		}
	}
	var out []string
	var last []string
	for k, it := range items {
		if k > 0 && len(it) > 0 && hasSuffix(last, it) {
			continue
		}
		if k > 0 {
			out = append(out, ",")
		}
		out = append(out, it...)
		last = it
	}
	return out
}

func hasSuffix(s, suf []string) bool {
	if len(suf) > len(s) {
		return false
	}
	off := len(s) - len(suf)
	for i := range suf {
		if s[off+i] != suf[i] {
			return false
		}
	}
	return true
}
