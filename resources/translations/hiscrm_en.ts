<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>ChatPane</name>
    <message numerus="yes">
        <location filename="../../app/ui/components/chat_pane.py" line="354"/>
        <source>%n message(s)</source>
        <translation>
            <numerusform>%n message</numerusform>
            <numerusform>%n messages</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>LoginDialog</name>
    <message numerus="yes">
        <location filename="../../app/ui/dialogs/login.py" line="223"/>
        <source>refreshed %n time(s)</source>
        <translation>
            <numerusform>refreshed once</numerusform>
            <numerusform>refreshed %n times</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="149"/>
        <source>%n new message(s)</source>
        <translation>
            <numerusform>%n new message</numerusform>
            <numerusform>%n new messages</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="152"/>
        <source>%n new message(s) on {accounts} accounts</source>
        <translation>
            <numerusform>%n new message on {accounts} accounts</numerusform>
            <numerusform>%n new messages on {accounts} accounts</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="169"/>
        <source>HisCRM Console: %n unread</source>
        <translation>
            <numerusform>HisCRM Console: %n unread</numerusform>
            <numerusform>HisCRM Console: %n unread</numerusform>
        </translation>
    </message>
</context>
</TS>
