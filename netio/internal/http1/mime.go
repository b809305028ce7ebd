package http1

// DefaultContentType is used for unknown extensions.
const DefaultContentType = "application/octet-stream"

// ContentType returns the Content-Type for a file name or path by its extension
// (ASCII case-insensitive), from a built-in table. Textual types carry
// "; charset=utf-8"; unknown or missing extensions give DefaultContentType.
// The result is a constant string; ContentType never allocates and never sniffs
// file contents (unlike net/http, which falls back to DetectContentType).
func ContentType(name []byte) string {
	dot := -1
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			dot = i
			break
		}
		if name[i] == '/' {
			break
		}
	}
	if dot < 0 || len(name)-dot-1 > 16 {
		return DefaultContentType
	}
	var b [16]byte
	ext := b[:len(name)-dot-1]
	for i, c := range name[dot+1:] {
		ext[i] = lower(c)
	}
	switch string(ext) {
	case "html", "htm":
		return "text/html; charset=utf-8"
	case "css":
		return "text/css; charset=utf-8"
	case "js", "mjs", "cjs":
		return "text/javascript; charset=utf-8"
	case "json", "map":
		return "application/json"
	case "webmanifest":
		return "application/manifest+json"
	case "txt", "text", "log":
		return "text/plain; charset=utf-8"
	case "md", "markdown":
		return "text/markdown; charset=utf-8"
	case "csv":
		return "text/csv; charset=utf-8"
	case "tsv":
		return "text/tab-separated-values; charset=utf-8"
	case "xml":
		return "text/xml; charset=utf-8"
	case "xhtml":
		return "application/xhtml+xml"
	case "rss":
		return "application/rss+xml"
	case "atom":
		return "application/atom+xml"
	case "svg":
		return "image/svg+xml"
	case "png":
		return "image/png"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "gif":
		return "image/gif"
	case "webp":
		return "image/webp"
	case "avif":
		return "image/avif"
	case "bmp":
		return "image/bmp"
	case "ico":
		return "image/x-icon"
	case "pdf":
		return "application/pdf"
	case "wasm":
		return "application/wasm"
	case "mp4", "m4v":
		return "video/mp4"
	case "webm":
		return "video/webm"
	case "ogv":
		return "video/ogg"
	case "mp3":
		return "audio/mpeg"
	case "ogg", "oga", "opus":
		return "audio/ogg"
	case "wav":
		return "audio/wav"
	case "flac":
		return "audio/flac"
	case "m4a":
		return "audio/mp4"
	case "woff":
		return "font/woff"
	case "woff2":
		return "font/woff2"
	case "ttf":
		return "font/ttf"
	case "otf":
		return "font/otf"
	case "gz", "tgz":
		return "application/gzip"
	case "zip":
		return "application/zip"
	case "tar":
		return "application/x-tar"
	case "bz2":
		return "application/x-bzip2"
	case "xz":
		return "application/x-xz"
	case "zst":
		return "application/zstd"
	case "7z":
		return "application/x-7z-compressed"
	}
	return DefaultContentType
}
