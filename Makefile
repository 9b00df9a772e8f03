# Two commands for a fresh machine: `make demo` (set up, build, show) and `make test`.
SWIFT ?= swift
BIN := .build/debug

.PHONY: demo test setup build
setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

demo: build
	@echo "== octet cpu"; $(BIN)/octet cpu
	@echo; echo "== octet backends"; $(BIN)/octet backends
	@echo; echo "== octet dispatch-trace (this machine)"
	@$(BIN)/octet dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --stride 1 --pad 1 --groups 1 --dtype u8s8
	@echo; echo "== octet dispatch-trace --cpu zen3"
	@$(BIN)/octet dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --stride 1 --pad 1 --groups 1 --dtype u8s8 --cpu zen3
	@echo; echo "== octet dispatch-trace --cpu sapphire-rapids"
	@$(BIN)/octet dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --stride 1 --pad 1 --groups 1 --dtype u8s8 --cpu sapphire-rapids

test: build
	$(SWIFT) build --product OctetRulesTool
	scripts/cli-tests.sh $(BIN)
	$(SWIFT) test
