package ingest

import (
	"strings"
	"time"
)

// Sunlight keeps no personal data of applicants: an event identifies a
// visit by its ticket number and a case by its case number, and names
// staff by their staff ids. An event that carries an applicant's name,
// ID number or phone is rejected (the field named), so that the queue
// system's integration is fixed rather than the data silently kept or
// silently dropped:
//   - a key that names such data (applicant_name, name, id_card, 身份证号,
//     phone, ...), whatever its value;
//   - any string value that is a PRC resident ID number (18 characters
//     with a valid birth date and check digit, or the old 15-digit form
//     with a valid birth date), whatever its key.

// personalKeys are the keys, lower case without _ - . or spaces, that name
// an applicant's personal data.
var personalKeys = map[string]bool{
	"name": true, "fullname": true, "realname": true, "applicantname": true, "applicant": true,
	"citizenname": true, "customername": true, "clientname": true, "personname": true,
	"idnumber": true, "idno": true, "idcard": true, "idcardno": true, "idcardnumber": true,
	"identity": true, "identitycard": true, "identityno": true, "residentid": true, "nationalid": true,
	"sfz": true, "sfzh": true, "shenfenzheng": true, "passport": true, "passportno": true,
	"phone": true, "phoneno": true, "phonenumber": true, "mobile": true, "mobileno": true,
	"mobilephone": true, "tel": true, "telephone": true, "address": true, "birthday": true, "birthdate": true,
	"姓名": true, "申请人": true, "申请人姓名": true, "身份证": true, "身份证号": true, "身份证号码": true,
	"证件号": true, "证件号码": true, "手机": true, "手机号": true, "电话": true, "联系电话": true, "住址": true,
}

// personalKey reports whether an event key names an applicant's personal
// data.
func personalKey(key string) bool {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, key)
	return personalKeys[k] || strings.HasPrefix(k, "applicant")
}

// residentIDWeights are the GB 11643 check-digit weights.
var residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// looksLikeResidentID reports whether s is a PRC resident ID number: 17
// digits, a check digit (0-9 or X) that fits them (ISO 7064 MOD 11-2),
// and a birth date (digits 7-14) from 1900 on; or the 15-digit form of
// before 1999 with a valid birth date YYMMDD (digits 7-12).
func looksLikeResidentID(s string) bool {
	switch len(s) {
	case 18:
		sum := 0
		for i := range 17 {
			c := s[i]
			if c < '0' || c > '9' {
				return false
			}
			sum += int(c-'0') * residentIDWeights[i]
		}
		check := "10X98765432"[sum%11]
		last := s[17]
		if last == 'x' {
			last = 'X'
		}
		return last == check && validDate(s[6:14], "20060102", 1900)
	case 15:
		for i := range 15 {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return validDate("19"+s[6:12], "20060102", 1900)
	}
	return false
}

func validDate(v, layout string, fromYear int) bool {
	t, err := time.Parse(layout, v)
	return err == nil && t.Year() >= fromYear && t.Before(time.Now())
}
