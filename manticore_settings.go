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
	// Values holds every row by Setting_name, the values of a name in the
	// server's order: most names have one, searchd.listen one per listener
	// (like url.Values).
	Values map[string][]string
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
	s := &ServerSettings{Values: make(map[string][]string, len(t.rows))}
	for r := range t.rows {
		name, err := t.text(r, nc)
		if err != nil {
			return nil, err
		}
		s.Values[name] = append(s.Values[name], t.rows[r][vc].String)
	}
	if v := s.Values["configuration_file"]; len(v) > 0 {
		s.ConfigurationFile = v[0]
	}
	if v := s.Values["searchd.data_dir"]; len(v) > 0 {
		s.DataDir = v[0]
	}
	return s, nil
}
