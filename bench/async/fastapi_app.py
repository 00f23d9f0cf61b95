# The FastAPI app of bench/async.sh: a JSON answer with a path parameter.
from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int, q: str = ""):
    return {"item_id": item_id, "q": q}


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())
