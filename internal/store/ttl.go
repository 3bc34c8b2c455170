package store

import (
	"fmt"
	"time"
)

// checkTTL rejects a negative ttl, and a zero one when the record must
// expire.
func checkTTL(ttl time.Duration, mustExpire bool) error {
	if ttl < 0 || (ttl == 0 && mustExpire) {
		return fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	return nil
}
