package ddbenctest

// Key state operations: EnableKey, DisableKey, ScheduleKeyDeletion.

func (s *KMS) setEnabled(region string, body []byte, enabled bool) (any, *apiError) {
	var in struct{ KeyId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	if k.state != KeyStateEnabled && k.state != KeyStateDisabled {
		return nil, &apiError{"KMSInvalidStateException", k.id2arn(s) + " is " + k.state + ".", 400}
	}
	k.state = KeyStateDisabled
	if enabled {
		k.state = KeyStateEnabled
	}
	return map[string]any{}, nil
}

func (s *KMS) scheduleKeyDeletion(region string, body []byte) (any, *apiError) {
	var in struct {
		KeyId               string
		PendingWindowInDays int
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.PendingWindowInDays == 0 {
		in.PendingWindowInDays = 30
	}
	if in.PendingWindowInDays < 7 || in.PendingWindowInDays > 30 {
		return nil, validation("PendingWindowInDays must be between 7 and 30")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.resolve(region, in.KeyId)
	if e != nil {
		return nil, e
	}
	if k.state == KeyStatePendingDeletion || k.state == KeyStateCreating {
		return nil, &apiError{"KMSInvalidStateException", k.id2arn(s) + " is " + k.state + ".", 400}
	}
	k.state = KeyStatePendingDeletion
	k.deletion = s.opts.Now().AddDate(0, 0, in.PendingWindowInDays)
	return map[string]any{"KeyId": k.id2arn(s), "DeletionDate": float64(k.deletion.Unix()), "KeyState": k.state, "PendingWindowInDays": in.PendingWindowInDays}, nil
}
