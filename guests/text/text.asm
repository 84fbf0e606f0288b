; guests/text/text.asm - the text-mode guest.
;
; Stays in 80x25 colour text mode (int 10h mode 03h) and draws a fixed screen:
;   row 0      title bar, white on blue
;   rows 2-7   one line per attribute, the last but one blinking
;   rows 8-9   the 16 foreground and 8 background colours
;   rows 11-18 all 256 characters, 32 per row, each row labelled with its
;              first code in hex
;   row 20     "Type here> ", hardware cursor at row 20, column 13
;   row 24     status bar, black on light grey
; Then it echoes what int 16h returns: printable characters at the cursor in
; light green, Backspace erases, Enter (or the end of a row) moves to the next
; row of the typing area (rows 20-23, cleared when it is full).
;
; Everything is a pure function of the keys typed: no timer, no RTC.

%include "boot.inc"

TYPE_TOP    equ 20
TYPE_BOTTOM equ 23
PROMPT_END  equ 13          ; first column after "Type here> " (col 2 + 11)
LINE_START  equ 2           ; first column of the following typing rows
ECHO_ATTR   equ 0x0a

main:
        mov ax, 0x0003              ; 80x25 colour text, clears the screen
        int 0x10
        mov ax, 0x1003              ; attribute bit 7 blinks (the BIOS default, made explicit)
        mov bl, 1
        int 0x10

        mov ax, 0xb800
        mov es, ax

        mov al, 0
        mov ah, 0x1f
        call fill_row
        mov al, 24
        mov ah, 0x70
        call fill_row

        mov si, screen_text
        call draw_table
        call draw_palette
        call draw_charset

        mov byte [cur_row], TYPE_TOP
        mov byte [cur_col], PROMPT_END
        call place_cursor

.key:
        xor ah, ah                  ; wait for a key: al = ASCII, ah = scancode
        int 0x16
        cmp al, 0x0d
        je .enter
        cmp al, 0x08
        je .backspace
        cmp al, 0x20
        jb .key                     ; no visible character (arrows, F-keys, Ctrl+x)
        cmp al, 0x7f
        je .key
        mov ah, ECHO_ATTR
        call put_at_cursor
        inc byte [cur_col]
        cmp byte [cur_col], 80
        jb .moved
.enter:
        call new_line
        jmp .moved
.backspace:
        mov bl, LINE_START
        cmp byte [cur_row], TYPE_TOP
        jne .bs_limit
        mov bl, PROMPT_END
.bs_limit:
        cmp [cur_col], bl
        jbe .key
        dec byte [cur_col]
        mov ax, 0x0720
        call put_at_cursor
.moved:
        call place_cursor
        jmp .key

; Moves to the start of the next typing row, clearing the area when it is full.
new_line:
        mov byte [cur_col], LINE_START
        inc byte [cur_row]
        cmp byte [cur_row], TYPE_BOTTOM
        jbe .done
        mov al, TYPE_TOP
.clear:
        push ax
        mov ah, 0x07
        call fill_row
        pop ax
        inc al
        cmp al, TYPE_BOTTOM
        jbe .clear
        mov byte [cur_row], TYPE_TOP
.done:
        ret

; ax = attribute:character, written at (cur_row, cur_col).
put_at_cursor:
        push ax
        mov al, [cur_row]
        mov bl, [cur_col]
        call cell_offset
        pop ax
        mov [es:di], ax
        ret

; al = row, bl = column -> di = byte offset of that cell in B800h.
cell_offset:
        push ax
        mov ah, 80
        mul ah
        xor bh, bh
        add ax, bx
        shl ax, 1
        mov di, ax
        pop ax
        ret

; Moves the hardware cursor to (cur_row, cur_col) with the BIOS.
place_cursor:
        mov ah, 0x02
        xor bh, bh
        mov dh, [cur_row]
        mov dl, [cur_col]
        int 0x10
        ret

; al = row, ah = attribute: fills that row with blanks.
fill_row:
        push ax
        mov bl, 0
        call cell_offset
        pop ax
        mov al, ' '
        mov cx, 80
        rep stosw
        ret

; si -> table of {row, column, attribute, text, 0}, ended by row 0FFh.
draw_table:
        lodsb
        cmp al, 0xff
        je .done
        mov bl, [si]
        call cell_offset
        mov ah, [si + 1]
        add si, 2
.char:
        lodsb
        test al, al
        jz draw_table
        stosw
        jmp .char
.done:
        ret

; Row 8: "0".."F" in foreground colours 0-15 on black; row 9: "0".."7" in
; white on background colours 0-7.
draw_palette:
        mov al, 8
        mov bl, 7
        call cell_offset
        xor cx, cx
.fg:
        mov bx, cx
        mov al, [hex_digits + bx]
        mov ah, cl
        stosw
        inc cx
        cmp cx, 16
        jb .fg
        mov al, 9
        mov bl, 7
        call cell_offset
        xor cx, cx
.bg:
        mov bx, cx
        mov al, [hex_digits + bx]
        mov ah, cl
        shl ah, 4
        or ah, 0x0f
        stosw
        mov ax, 0x0720              ; a gap between the colour blocks
        stosw
        inc cx
        cmp cx, 8
        jb .bg
        ret

; Rows 11-18: "xx: " label then 32 characters per row, codes 00h-FFh.
draw_charset:
        xor dx, dx                  ; dl = first code of the row
.row:
        mov al, dl
        shr al, 5
        add al, 11
        mov bl, 4
        call cell_offset
        mov al, dl
        shr al, 4
        call hex_nibble
        mov al, dl
        call hex_nibble
        mov ax, 0x073a              ; ':'
        stosw
        mov ax, 0x0720
        stosw
        mov cx, 32
.char:
        mov al, dl
        mov ah, 0x0f
        stosw
        inc dl
        loop .char
        test dl, dl
        jnz .row
        ret

; Writes the low nibble of al as a hex digit (attribute 0Bh) at es:di.
hex_nibble:
        and al, 0x0f
        mov bx, hex_digits
        xlatb
        mov ah, 0x0b
        stosw
        ret

hex_digits:     db "0123456789ABCDEF"
cur_row:        db 0
cur_col:        db 0

screen_text:
        db 0, 2, 0x1f, "SPICE-WEB TEXT GUEST - 80x25 colour text mode", 0
        db 2, 2, 0x07, "07 light grey on black: The quick brown fox jumps over the lazy dog.", 0
        db 3, 2, 0x4e, "4E yellow on red", 0
        db 4, 2, 0x2f, "2F white on green", 0
        db 5, 2, 0x70, "70 black on light grey", 0
        db 6, 2, 0x8c, "8C BLINKING light red on black", 0
        db 7, 2, 0x1e, "1E yellow on blue", 0
        db 8, 2, 0x07, "FG:", 0
        db 9, 2, 0x07, "BG:", 0
        db 10, 2, 0x0b, "CHARACTER SET 00-FF:", 0
        db 20, 2, 0x0e, "Type here> ", 0
        db 24, 1, 0x70, "Typed keys are echoed at the cursor; Backspace erases, Enter starts a new row.", 0
        db 0xff

image_end:
