package channel

import (
	"mime"
	"strconv"
)

type mimeDecoder = mime.WordDecoder

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
