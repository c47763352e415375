// What both conformance suites run (straight to the simulator, and through the gateway): the chat example (three
// questions in one chat, where the third reply's context line shows the whole conversation reached the model), and
// a stream that fails part-way.
import type { ChatSession, EnhancedGenerateContentResponse, GenerativeModel } from "@google/generative-ai";
import { expect } from "vitest";

export const QUESTIONS = ["Explain quantum entanglement in one sentence", "Now explain it to a five-year-old", "What was the first thing I asked you?"];
export const THIRD_REPLY_CONTEXT = '[context: 5 contents; first user message: "Explain quantum entanglement in one sentence"]';

export interface ChatRun {
  /** The chat history's length after each turn. */
  lengths: number[];
  replies: string[];
  /** The aggregated response of each turn. */
  responses: EnhancedGenerateContentResponse[];
}

/** The questions through a legacy-SDK chat, with sendMessage or sendMessageStream. A streamed turn's chunks must
 *  concatenate to its aggregated reply. */
export async function runLegacyChat(chat: ChatSession, mode: "unary" | "stream"): Promise<ChatRun> {
  const run: ChatRun = { lengths: [], replies: [], responses: [] };
  for (const question of QUESTIONS) {
    let response: EnhancedGenerateContentResponse;
    if (mode === "unary") {
      response = (await chat.sendMessage(question)).response;
    } else {
      const result = await chat.sendMessageStream(question);
      let streamed = "";
      for await (const chunk of result.stream) streamed += chunk.text();
      response = await result.response;
      expect(response.text()).toBe(streamed);
    }
    run.responses.push(response);
    run.replies.push(response.text());
    run.lengths.push((await chat.getHistory()).length);
  }
  return run;
}

/** A legacy-SDK stream that fails part-way: the chunks the caller saw before its stream threw. */
export async function chunksBeforeStreamError(model: GenerativeModel, prompt: string): Promise<string[]> {
  const result = await model.generateContentStream(prompt);
  const seen: string[] = [];
  const consume = async (): Promise<void> => {
    for await (const chunk of result.stream) seen.push(chunk.text());
  };
  await expect(consume()).rejects.toThrow();
  await result.response.catch(() => undefined);
  return seen;
}
