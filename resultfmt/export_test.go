package resultfmt

import "os"

// What the external tests reach inside the package.
var (
	SafeName   = safeName
	JSONValue  = jsonValue
	CreateFile = createFile
)

// SetCreate replaces how w makes its files, so that a test can make writes fail.
func SetCreate(w *Writer, create func(path string) (*os.File, error)) { w.create = create }
