package dbctl_test

import (
	"context"
	"fmt"
)

// SHOW SETTINGS says where searchd's config file and data_dir are (the rows
// below are those of manticore-2.jsonl, "SHOW SETTINGS").
func ExampleManticore_Settings() {
	c, mock := mockClient()
	mock.ExpectQuery("SHOW SETTINGS").WillReturnRows(rows([]string{"Setting_name", "Value"},
		"configuration_file", "/etc/manticoresearch/manticore.conf",
		"worker_pid", "21544",
		"searchd.listen", "127.0.0.1:9306:mysql41",
		"searchd.listen", "127.0.0.1:9308:http",
		"searchd.data_dir", "/var/lib/manticore"))

	s, err := c.Manticore().Settings(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.ConfigurationFile)
	fmt.Println(s.DataDir)
	fmt.Println(s.Values["searchd.listen"], len(s.Values))
	// Output:
	// /etc/manticoresearch/manticore.conf
	// /var/lib/manticore
	// [127.0.0.1:9306:mysql41 127.0.0.1:9308:http] 4
}
