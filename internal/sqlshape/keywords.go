package sqlshape

// keywords are the words a shape keeps: the SQL keywords of the statements
// the SDK, the CLI and the tests send to Manticore and MatrixOne, and the
// option and setting names whose meaning matters (sync, cutoff, type,
// wordforms, ...). Any other word is an identifier; NULL, TRUE and FALSE
// are literals. Column types (int,
// text, varchar, ...) are not keywords on purpose: a column list is data
// of the statement, and lists of different types then reduce alike.
var keywords = set(
	// statements and clauses
	"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "IS", "LIKE", "ORDER", "BY", "GROUP", "HAVING",
	"LIMIT", "OFFSET", "ASC", "DESC", "AS", "DISTINCT", "ALL", "ANY", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE",
	"END", "UNION", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "ON", "USING", "EXISTS", "IF",
	"INSERT", "INTO", "VALUES", "VALUE", "REPLACE", "UPDATE", "SET", "DELETE", "TRUNCATE", "CREATE", "DROP",
	"ALTER", "ADD", "COLUMN", "RENAME", "TO", "TABLE", "TABLES", "DATABASE", "DATABASES", "SCHEMA", "INDEX",
	"VIEW", "PRIMARY", "KEY", "DEFAULT", "UNIQUE", "SHOW", "DESCRIBE", "EXPLAIN", "USE", "BEGIN", "COMMIT",
	"ROLLBACK", "START", "TRANSACTION", "KILL", "GRANT", "REVOKE", "PREPARE", "EXECUTE", "DEALLOCATE", "FOR",
	"WITH", "STATUS", "VARIABLES", "WARNINGS", "ERRORS", "GLOBAL", "SESSION", "FULL", "PROCESSLIST", "COLUMNS",
	"FIELDS", "CREATE", "GRANTS", "TIMESTAMP", "INTERVAL", "CAST", "CONVERT", "COLLATE", "NAMES", "CHARACTER",
	"AUTOCOMMIT",
	// Manticore
	"FREEZE", "UNFREEZE", "LOCKS", "FLUSH", "RAMCHUNK", "RTINDEX", "ATTRIBUTES", "HOSTNAMES", "LOGS",
	"OPTIMIZE", "OPTION", "SYNC", "CUTOFF", "IMPORT", "META", "SETTINGS", "PLAN", "THREADS", "AGENT", "MATCH",
	"TYPE", "LOCAL", "WORDFORMS", "STOPWORDS", "EXCEPTIONS", "RT_MEM_LIMIT", "MORPHOLOGY", "ATTRIBUTE",
	"INDEXED", "STORED", "ENGINE", "RECONFIGURE", "RELOAD", "ATTACH", "WITH", "VERSION",
	// MatrixOne
	"ACCOUNT", "ACCOUNTS", "ADMIN_NAME", "IDENTIFIED", "USER", "USERS", "ROLE", "ROLES", "SNAPSHOT", "SNAPSHOTS",
	"PITR", "PITRS", "RESTORE", "RECOVERY_WINDOW", "RANGE", "CLUSTER", "BACKUP", "FILESYSTEM", "PARALLELISM",
	"PUBLICATION", "PUBLICATIONS", "SUBSCRIPTIONS", "SEQUENCE", "STAGE", "STAGES", "CONNECTOR", "PUBLICATION",
	"SUSPEND", "OPEN", "RESTRICTED", "COMMENT", "PASSWORD", "CURRENT_USER", "CURRENT_ACCOUNT", "CURRENT_ROLE",
	"LOGSERVICE", "REPLICAS", "STORES", "UPGRADE", "CHECKPOINT",
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
