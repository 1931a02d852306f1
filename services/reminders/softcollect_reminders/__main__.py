from softcollect_runtime.service import run

from .app import build

if __name__ == "__main__":
    run(*build())
