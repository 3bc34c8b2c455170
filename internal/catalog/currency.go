package catalog

// currencies are the ISO 4217 codes a catalog may price in: the active
// codes that Stripe accepts as presentment currencies, lowercase as Stripe
// writes them.
var currencies = setOf(
	"aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn",
	"bam", "bbd", "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl",
	"bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf", "clp", "cny", "cop",
	"crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb", "eur",
	"fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd",
	"hnl", "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy",
	"kes", "kgs", "khr", "kmf", "krw", "kwd", "kyd", "kzt", "lak", "lbp",
	"lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop",
	"mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok",
	"npr", "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg",
	"qar", "ron", "rsd", "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd",
	"shp", "sle", "sos", "srd", "std", "szl", "thb", "tjs", "tnd", "top",
	"try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd",
	"vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
)

// KnownCurrency reports whether code is a lowercase ISO 4217 code that a
// catalog may price in.
func KnownCurrency(code string) bool {
	return currencies[code]
}

func setOf(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}
