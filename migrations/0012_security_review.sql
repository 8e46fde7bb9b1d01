-- The security review of 0.2 (issue 24).
--
-- A passkey registration challenge remembers whether it was issued with the proof an
-- MFA-enrolled user needs to add a factor (an aal2 session or a fresh code): a ceremony begun
-- from a password-only session before the user enrolled cannot be finished after.
ALTER TABLE webauthn_challenges ADD COLUMN second_factor_proven boolean NOT NULL DEFAULT false;

-- 0.2 let abandoned second steps use up an MFA user's guesses with no lock end, refusing every
-- sign-in until a password reset. Such counts start afresh: the lock they should have carried
-- (at most 15 minutes) would be over.
UPDATE users SET failed_login_count = 0
 WHERE failed_login_count >= 10 AND (locked_until IS NULL OR locked_until <= now());
