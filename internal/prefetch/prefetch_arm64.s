#include "textflag.h"

// func lines(start, n uintptr)
TEXT ·lines(SB), NOSPLIT|NOFRAME, $0-16
	MOVD start+0(FP), R0
	MOVD n+8(FP), R1
	CBZ R1, done
loop:
	PRFM (R0), PLDL1KEEP
	ADD $64, R0
	SUB $1, R1
	CBNZ R1, loop
done:
	RET
