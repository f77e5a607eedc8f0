package dbctl

import "context"

// ServerSettings is the answer of SHOW SETTINGS: where searchd says its
// configuration file and data_dir are, and every setting it lists.
//
// Shape (manticore-2.jsonl, "SHOW SETTINGS", Manticore 29.2.2): columns
// Setting_name and Value; rows "configuration_file", "worker_pid", then
// "searchd.<key>" and "common.<key>"; a key may repeat (searchd.listen).
type ServerSettings struct {
	// ConfigurationFile is the absolute path of the config file searchd
	// was started with ("configuration_file"); "" when it lists none.
	ConfigurationFile string
	// DataDir is "searchd.data_dir": the RT-mode data directory; "" in
	// plain mode.
	DataDir string
	// All holds every row in the server's order.
	All []Setting
}

// Setting is one row of SHOW SETTINGS.
type Setting struct {
	Name  string
	Value string
}

// Get returns the first value of name, and whether it was listed.
func (s *ServerSettings) Get(name string) (string, bool) {
	for _, st := range s.All {
		if st.Name == name {
			return st.Value, true
		}
	}
	return "", false
}

// Settings runs SHOW SETTINGS. Errors: the server's refusal as an *OpError
// wrapping *mysql.MySQLError; a result without Setting_name or Value is
// ErrUnexpectedResult naming the columns it had.
func (m *Manticore) Settings(ctx context.Context) (*ServerSettings, error) {
	const op = "manticore show settings"
	t, err := m.c.query(ctx, m.c.db, "SHOW SETTINGS")
	if err != nil {
		return nil, manticoreErr(op, err)
	}
	s, err := parseSettings(t)
	if err != nil {
		return nil, opErr(op, nil, "", err)
	}
	return s, nil
}

func parseSettings(t *textTable) (*ServerSettings, error) {
	nc, err := t.column("Setting_name")
	if err != nil {
		return nil, err
	}
	vc, err := t.column("Value")
	if err != nil {
		return nil, err
	}
	s := &ServerSettings{All: make([]Setting, 0, len(t.rows))}
	for r := range t.rows {
		name, err := t.text(r, nc)
		if err != nil {
			return nil, err
		}
		s.All = append(s.All, Setting{Name: name, Value: t.rows[r][vc].String})
	}
	s.ConfigurationFile, _ = s.Get("configuration_file")
	s.DataDir, _ = s.Get("searchd.data_dir")
	return s, nil
}
